-- The audit log is append-only: the engine refuses to change or remove an
-- entry. (Someone with write access to the file can still drop these
-- triggers; the hash chain is what detects that: `bedside audit verify`.)
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only: DELETE refused');
END;
