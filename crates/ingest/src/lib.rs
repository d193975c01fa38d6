//! bedside-ingest: see ARCHITECTURE.md
