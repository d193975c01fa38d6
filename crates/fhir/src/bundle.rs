//! Bundles in (`transaction`, `batch`, `collection`, `history` as sent by
//! R4 topic-based subscription notifications, `searchset`) and response
//! Bundles out (`transaction-response`, `batch-response`).

use crate::datetime::FhirInstant;
use crate::outcome::{ErrorKind, FhirError, OperationOutcome};
use crate::parse::{parse_value, ParsedResource};
use crate::types::{is_resource_type, is_valid_id, parse_reference, RefTarget};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The Bundle types Bedside ingests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleType {
    /// All or nothing.
    Transaction,
    /// Each entry on its own.
    Batch,
    Collection,
    /// A subscription notification: the first entry is the
    /// SubscriptionStatus (or R4 backport Parameters), the rest resources.
    History,
    Searchset,
}

impl BundleType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "transaction" => Self::Transaction,
            "batch" => Self::Batch,
            "collection" => Self::Collection,
            "history" => Self::History,
            "searchset" => Self::Searchset,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transaction => "transaction",
            Self::Batch => "batch",
            Self::Collection => "collection",
            Self::History => "history",
            Self::Searchset => "searchset",
        }
    }
}

/// `Bundle.entry.request.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
}

impl Method {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            "PATCH" => Self::Patch,
            _ => return None,
        })
    }
}

/// `Bundle.entry.request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRequest {
    pub method: Method,
    pub url: String,
}

/// What an entry carries.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryBody {
    Resource(Box<ParsedResource>),
    /// The entry (or its resource) could not be interpreted.
    Invalid(FhirError),
    /// No resource (e.g. a DELETE, or an id-only notification entry).
    Empty,
}

/// One entry to ingest: from a Bundle, an NDJSON line, or a single POST/PUT.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEntry {
    /// Position in the Bundle (or line number, from 0, in NDJSON).
    pub index: usize,
    pub full_url: Option<String>,
    pub request: Option<EntryRequest>,
    pub body: EntryBody,
}

impl ParsedEntry {
    /// An entry for a resource received on its own.
    pub fn from_resource(index: usize, r: ParsedResource) -> Self {
        Self {
            index,
            full_url: None,
            request: None,
            body: EntryBody::Resource(Box::new(r)),
        }
    }
    /// Parse one NDJSON line (bulk data); a bad line becomes `Invalid`.
    pub fn from_ndjson_line(index: usize, line: &[u8]) -> Self {
        let body = match crate::parse::parse_resource(line) {
            Ok(r) => EntryBody::Resource(Box::new(r)),
            Err(e) => EntryBody::Invalid(e),
        };
        Self {
            index,
            full_url: None,
            request: None,
            body,
        }
    }
    pub fn resource(&self) -> Option<&ParsedResource> {
        match &self.body {
            EntryBody::Resource(r) => Some(r),
            _ => None,
        }
    }
}

/// A parsed Bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub btype: BundleType,
    pub id: Option<String>,
    /// Entries in order (for `history`, without the notification entry).
    pub entries: Vec<ParsedEntry>,
    /// The SubscriptionStatus / Parameters of a notification.
    pub notification: Option<Value>,
}

/// Parse a Bundle. Bundle-level problems fail the whole parse; problems
/// with one entry make that entry [`EntryBody::Invalid`] with a path like
/// `Bundle.entry[3].resource.subject.reference`, so a batch can go on and a
/// transaction can report which entry failed.
///
/// References to an entry's `fullUrl` (`urn:uuid:`, or an absolute URL)
/// are rewritten to `Type/id`. An entry resource without an id takes it
/// from `request.url` (PUT), from a `urn:uuid:` fullUrl, from an absolute
/// fullUrl, or else from its content ([`ParsedResource::ensure_id`]).
pub fn parse_bundle(json: &[u8]) -> Result<Bundle, FhirError> {
    let v: Value = serde_json::from_slice(json)
        .map_err(|e| FhirError::new(ErrorKind::Json, "", format!("invalid JSON: {e}")))?;
    bundle_from_value(v)
}

/// [`parse_bundle`] from a JSON value.
pub fn bundle_from_value(v: Value) -> Result<Bundle, FhirError> {
    let Value::Object(mut obj) = v else {
        return Err(FhirError::new(
            ErrorKind::Json,
            "",
            "a Bundle must be a JSON object",
        ));
    };
    match obj.get("resourceType") {
        Some(Value::String(s)) if s == "Bundle" => {}
        Some(Value::String(s)) => {
            return Err(FhirError::new(
                ErrorKind::ResourceType,
                "resourceType",
                format!("expected a Bundle, got {s:?}"),
            ))
        }
        _ => {
            return Err(FhirError::new(
                ErrorKind::ResourceType,
                "resourceType",
                "missing resourceType (expected \"Bundle\")",
            ))
        }
    }
    let id = match obj.get("id") {
        None => None,
        Some(Value::String(s)) if is_valid_id(s) => Some(s.clone()),
        Some(_) => {
            return Err(FhirError::new(
                ErrorKind::Id,
                "Bundle.id",
                "not a valid FHIR id",
            ))
        }
    };
    let btype = match obj.get("type") {
        Some(Value::String(s)) => BundleType::parse(s).ok_or_else(|| {
            FhirError::new(
                ErrorKind::NotSupported,
                "Bundle.type",
                format!("Bundle type {s:?} is not ingested (transaction, batch, collection, history, searchset are)"),
            )
        })?,
        _ => return Err(FhirError::new(ErrorKind::Structure, "Bundle.type", "missing Bundle.type")),
    };
    let raw_entries = match obj.remove("entry") {
        None => vec![],
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(FhirError::new(
                ErrorKind::Structure,
                "Bundle.entry",
                "entry must be an array",
            ))
        }
    };
    let mut raws: Vec<RawEntry> = raw_entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| RawEntry::read(i, e, btype))
        .collect();
    let mut notification = None;
    if btype == BundleType::History {
        if let Some(first) = raws.first() {
            let t = first
                .resource
                .as_ref()
                .and_then(|r| r.get("resourceType"))
                .and_then(Value::as_str);
            if matches!(t, Some("SubscriptionStatus" | "Parameters")) {
                notification = raws.remove(0).resource;
            }
        }
    }
    let aliases = assign_ids(&mut raws);
    // Transaction and batch entries are writes of exactly the resource
    // sent, like `POST`/`PUT`: an unknown element refuses the entry.
    let strict = matches!(btype, BundleType::Transaction | BundleType::Batch);
    let entries = raws
        .into_iter()
        .map(|r| r.finish(&aliases, strict))
        .collect();
    Ok(Bundle {
        btype,
        id,
        entries,
        notification,
    })
}

struct RawEntry {
    index: usize,
    full_url: Option<String>,
    request: Option<EntryRequest>,
    resource: Option<Value>,
    /// The id the resource will have, decided before references resolve.
    id: Option<String>,
    error: Option<FhirError>,
}

impl RawEntry {
    fn read(index: usize, e: Value, btype: BundleType) -> Self {
        let at = format!("Bundle.entry[{index}]");
        let mut r = RawEntry {
            index,
            full_url: None,
            request: None,
            resource: None,
            id: None,
            error: None,
        };
        let Value::Object(mut m) = e else {
            r.error = Some(FhirError::new(
                ErrorKind::Structure,
                at,
                "entry must be an object",
            ));
            return r;
        };
        match m.remove("fullUrl") {
            None => {}
            Some(Value::String(s)) => r.full_url = Some(s),
            Some(_) => {
                r.error = Some(FhirError::new(
                    ErrorKind::Structure,
                    format!("{at}.fullUrl"),
                    "must be a string",
                ));
                return r;
            }
        }
        match m.remove("request") {
            None if matches!(btype, BundleType::Transaction | BundleType::Batch) => {
                r.error = Some(FhirError::new(
                    ErrorKind::Structure,
                    format!("{at}.request"),
                    "a transaction/batch entry needs request.method and request.url",
                ));
                return r;
            }
            None => {}
            Some(req) => match read_request(&req, &at) {
                Ok(q) => r.request = Some(q),
                Err(e) => {
                    r.error = Some(e);
                    return r;
                }
            },
        }
        match m.remove("resource") {
            Some(v @ Value::Object(_)) => r.resource = Some(v),
            Some(_) => {
                r.error = Some(FhirError::new(
                    ErrorKind::Structure,
                    format!("{at}.resource"),
                    "must be an object",
                ))
            }
            None => {
                let needs = matches!(
                    r.request.as_ref().map(|q| q.method),
                    Some(Method::Post | Method::Put)
                ) || matches!(btype, BundleType::Collection);
                if needs {
                    r.error = Some(FhirError::new(
                        ErrorKind::Structure,
                        format!("{at}.resource"),
                        "missing resource",
                    ));
                }
            }
        }
        r
    }

    fn finish(self, aliases: &HashMap<String, String>, strict: bool) -> ParsedEntry {
        let at = format!("Bundle.entry[{}]", self.index);
        let body = if let Some(e) = self.error {
            EntryBody::Invalid(e)
        } else if let Some(mut v) = self.resource {
            if !aliases.is_empty() {
                rewrite_references(&mut v, aliases);
            }
            if let (Some(id), Value::Object(m)) = (&self.id, &mut v) {
                m.entry("id").or_insert_with(|| Value::String(id.clone()));
            }
            match parse_value(v) {
                Ok(mut p) => {
                    p.ensure_id();
                    let unknown = if strict {
                        p.refuse_unknown()
                            .map_err(|e| e.under(&format!("{at}.resource")))
                    } else {
                        Ok(())
                    };
                    match unknown.and_then(|()| check_request(&p, self.request.as_ref(), &at)) {
                        Ok(()) => EntryBody::Resource(Box::new(p)),
                        Err(e) => EntryBody::Invalid(e),
                    }
                }
                Err(e) => EntryBody::Invalid(e.under(&format!("{at}.resource"))),
            }
        } else {
            EntryBody::Empty
        };
        ParsedEntry {
            index: self.index,
            full_url: self.full_url,
            request: self.request,
            body,
        }
    }
}

fn read_request(req: &Value, at: &str) -> Result<EntryRequest, FhirError> {
    let method = req
        .get("method")
        .and_then(Value::as_str)
        .and_then(Method::parse)
        .ok_or_else(|| {
            FhirError::new(
                ErrorKind::Structure,
                format!("{at}.request.method"),
                "missing or not one of GET HEAD POST PUT DELETE PATCH",
            )
        })?;
    let url = req
        .get("url")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            FhirError::new(
                ErrorKind::Structure,
                format!("{at}.request.url"),
                "missing request.url",
            )
        })?;
    Ok(EntryRequest {
        method,
        url: url.to_string(),
    })
}

/// `Type`, `Type/id`, `Type/id/_history/v`, `Type?query` (also with a base).
fn url_type_id(url: &str) -> Option<(String, Option<String>)> {
    let path = url.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let n = segs.len();
    for k in [4usize, 2, 1] {
        if n >= k {
            let s = &segs[n - k..];
            match s {
                [t, id, "_history", _] | [t, id] if is_resource_type(t) => {
                    return Some((t.to_string(), Some(id.to_string())))
                }
                [t] if is_resource_type(t) => return Some((t.to_string(), None)),
                _ => {}
            }
        }
    }
    None
}

fn check_request(
    p: &ParsedResource,
    req: Option<&EntryRequest>,
    at: &str,
) -> Result<(), FhirError> {
    let Some(req) = req else { return Ok(()) };
    if !matches!(req.method, Method::Post | Method::Put) {
        return Ok(());
    }
    let Some((t, id)) = url_type_id(&req.url) else {
        return Err(FhirError::new(
            ErrorKind::Structure,
            format!("{at}.request.url"),
            format!("{:?} does not name a resource type", req.url),
        ));
    };
    if t != p.rtype {
        return Err(FhirError::new(
            ErrorKind::ResourceType,
            format!("{at}.request.url"),
            format!("request.url names {t} but the resource is a {}", p.rtype),
        ));
    }
    if req.method == Method::Put {
        if let (Some(u), Some(r)) = (id, p.id.as_ref()) {
            if &u != r {
                return Err(FhirError::new(
                    ErrorKind::Id,
                    format!("{at}.request.url"),
                    format!("PUT to id {u:?} but the resource id is {r:?}"),
                ));
            }
        }
    }
    Ok(())
}

/// Decide each entry's id and map fullUrls to `Type/id`.
fn assign_ids(raws: &mut [RawEntry]) -> HashMap<String, String> {
    let mut aliases = HashMap::new();
    for r in raws.iter_mut() {
        let Some(res) = &r.resource else { continue };
        let Some(rtype) = res.get("resourceType").and_then(Value::as_str) else {
            continue;
        };
        let own = res.get("id").and_then(Value::as_str).map(str::to_string);
        let from_url = r
            .request
            .as_ref()
            .filter(|q| q.method == Method::Put)
            .and_then(|q| url_type_id(&q.url))
            .and_then(|(_, id)| id)
            .filter(|id| is_valid_id(id));
        let from_full = r
            .full_url
            .as_deref()
            .and_then(|f| match parse_reference(f) {
                Ok(RefTarget::Urn(u)) => u.strip_prefix("urn:uuid:").map(str::to_string),
                Ok(RefTarget::Absolute { rtype: t, id, .. }) if t == rtype => Some(id),
                _ => None,
            });
        r.id = own.or(from_url).or(from_full);
        if let (Some(full), Some(id)) = (&r.full_url, &r.id) {
            aliases.insert(full.clone(), format!("{rtype}/{id}"));
        }
    }
    aliases
}

fn rewrite_references(v: &mut Value, aliases: &HashMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "reference" {
                    if let Value::String(s) = child {
                        if let Some(to) = aliases.get(s.as_str()) {
                            *s = to.clone();
                        }
                    }
                } else {
                    rewrite_references(child, aliases);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| rewrite_references(c, aliases)),
        _ => {}
    }
}

/// `Bundle.entry.response` of a transaction/batch response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryResponse {
    /// HTTP status line, e.g. `201 Created`, `200 OK`, `400 Bad Request`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<FhirInstant>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "outcome_json"
    )]
    pub outcome: Option<OperationOutcome>,
}

mod outcome_json {
    use super::OperationOutcome;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn serialize<S: Serializer>(o: &Option<OperationOutcome>, s: S) -> Result<S::Ok, S::Error> {
        o.as_ref().map(OperationOutcome::to_json).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OperationOutcome>, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        v.map(|v| OperationOutcome::from_json(&v).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl EntryResponse {
    /// `201 Created` with `Type/id/_history/v` location and a weak ETag.
    pub fn created(rtype: &str, id: &str, version: &str) -> Self {
        Self::with_status("201 Created", rtype, id, version)
    }
    /// `200 OK` (updated or unchanged).
    pub fn ok(rtype: &str, id: &str, version: &str) -> Self {
        Self::with_status("200 OK", rtype, id, version)
    }
    fn with_status(status: &str, rtype: &str, id: &str, version: &str) -> Self {
        Self {
            status: status.to_string(),
            location: Some(format!("{rtype}/{id}/_history/{version}")),
            etag: Some(format!("W/\"{version}\"")),
            last_modified: None,
            outcome: None,
        }
    }
    /// An error status (e.g. `400 Bad Request`) with its outcome.
    pub fn error(status: &str, outcome: OperationOutcome) -> Self {
        Self {
            status: status.to_string(),
            location: None,
            etag: None,
            last_modified: None,
            outcome: Some(outcome),
        }
    }
}

/// Build a `transaction-response` or `batch-response` Bundle, one response
/// per entry in order.
pub fn response_bundle(kind: BundleType, responses: &[EntryResponse]) -> Value {
    let t = match kind {
        BundleType::Transaction => "transaction-response",
        BundleType::Batch => "batch-response",
        BundleType::History => "history",
        BundleType::Collection | BundleType::Searchset => "batch-response",
    };
    let entries: Vec<Value> = responses
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert(
                "response".into(),
                serde_json::to_value(r).unwrap_or_default(),
            );
            Value::Object(m)
        })
        .collect();
    serde_json::json!({"resourceType": "Bundle", "type": t, "entry": entries})
}

/// Read the responses back from a response Bundle (for clients and tests).
pub fn parse_response_bundle(v: &Value) -> Result<(String, Vec<EntryResponse>), FhirError> {
    let t = v
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| t.ends_with("-response") || *t == "history")
        .ok_or_else(|| {
            FhirError::new(ErrorKind::Structure, "Bundle.type", "not a response Bundle")
        })?;
    let mut out = Vec::new();
    if let Some(Value::Array(entries)) = v.get("entry") {
        for (i, e) in entries.iter().enumerate() {
            let r = e.get("response").ok_or_else(|| {
                FhirError::new(
                    ErrorKind::Structure,
                    format!("Bundle.entry[{i}].response"),
                    "missing",
                )
            })?;
            out.push(crate::parse::parse_datatype(
                r,
                &format!("Bundle.entry[{i}].response"),
            )?);
        }
    }
    Ok((t.to_string(), out))
}
