//! Parsing feedback bodies (`POST {baseUrl}/cds-services/{id}/feedback`).

use crate::json::{as_object, index, invalid_json, join, opt_string, req, req_string, type_name};
use crate::request::HookError;
use crate::types::{AcceptedSuggestion, Coding, Feedback, FeedbackItem, Outcome, OverrideReason};
use serde_json::Value;

fn parse_coding(v: &Value, field: &str) -> Result<Coding, HookError> {
    let obj = as_object(v, field)?;
    Ok(Coding {
        code: req_string(obj, field, "code")?,
        system: req_string(obj, field, "system")?,
        display: opt_string(obj, field, "display")?,
    })
}

/// Parse a feedback body (`{"feedback": [...]}`), enforcing the
/// specification's rules: `card`, `outcome` (`accepted`|`overridden`) and
/// `outcomeTimestamp` (RFC 3339) are required; an accepted outcome lists
/// its `acceptedSuggestions`; an `overrideReason` has a `reason`, a
/// `userComment`, or both.
pub fn parse_feedback(body: &[u8]) -> Result<Feedback, HookError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| invalid_json(&e))?;
    let obj = as_object(&root, "")?;
    let items = match req(obj, "", "feedback")? {
        Value::Array(a) => a,
        other => {
            return Err(HookError::WrongType {
                field: "feedback".into(),
                expected: "an array",
                got: type_name(other),
            })
        }
    };
    let feedback = items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_feedback_item(item, &index("feedback", i)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Feedback { feedback })
}

fn parse_feedback_item(v: &Value, p: &str) -> Result<FeedbackItem, HookError> {
    let obj = as_object(v, p)?;
    let card = req_string(obj, p, "card")?;
    let outcome = match req_string(obj, p, "outcome")?.as_str() {
        "accepted" => Outcome::Accepted,
        "overridden" => Outcome::Overridden,
        other => {
            return Err(HookError::Invalid {
                field: join(p, "outcome"),
                reason: format!("must be \"accepted\" or \"overridden\", got {other:?}"),
            })
        }
    };
    let sugg_path = join(p, "acceptedSuggestions");
    let accepted_suggestions = match obj.get("acceptedSuggestions") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let sp = index(&sugg_path, i);
                Ok(AcceptedSuggestion {
                    id: req_string(as_object(s, &sp)?, &sp, "id")?,
                })
            })
            .collect::<Result<Vec<_>, HookError>>()?,
        Some(other) => {
            return Err(HookError::WrongType {
                field: sugg_path,
                expected: "an array",
                got: type_name(other),
            })
        }
    };
    if outcome == Outcome::Accepted && accepted_suggestions.is_empty() {
        return Err(HookError::Missing {
            field: format!("{sugg_path} (REQUIRED for accepted outcomes)"),
        });
    }
    let reason_path = join(p, "overrideReason");
    let override_reason = match obj.get("overrideReason") {
        None => None,
        Some(v) => {
            let o = as_object(v, &reason_path)?;
            let reason = match o.get("reason") {
                None => None,
                Some(c) => Some(parse_coding(c, &join(&reason_path, "reason"))?),
            };
            let user_comment = opt_string(o, &reason_path, "userComment")?;
            if reason.is_none() && user_comment.is_none() {
                return Err(HookError::Invalid {
                    field: reason_path,
                    reason: "must contain a reason, a userComment, or both".into(),
                });
            }
            Some(OverrideReason {
                reason,
                user_comment,
            })
        }
    };
    let ts_path = join(p, "outcomeTimestamp");
    let ts = req_string(obj, p, "outcomeTimestamp")?;
    let outcome_timestamp = chrono::DateTime::parse_from_rfc3339(&ts)
        .map_err(|e| HookError::Invalid {
            field: ts_path,
            reason: format!("{ts:?} is not an RFC 3339 timestamp: {e}"),
        })?
        .with_timezone(&chrono::Utc);
    Ok(FeedbackItem {
        card,
        outcome,
        accepted_suggestions,
        override_reason,
        outcome_timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_rules() {
        let ok = br#"{"feedback":[{"card":"c1","outcome":"accepted","acceptedSuggestions":[{"id":"s1"}],"outcomeTimestamp":"2021-12-11T10:05:31Z"}]}"#;
        let f = parse_feedback(ok).unwrap();
        assert_eq!(f.feedback[0].accepted_suggestions[0].id, "s1");

        let no_sugg = br#"{"feedback":[{"card":"c1","outcome":"accepted","outcomeTimestamp":"2021-12-11T10:05:31Z"}]}"#;
        assert!(parse_feedback(no_sugg)
            .unwrap_err()
            .to_string()
            .contains("feedback[0].acceptedSuggestions"));

        let bad_outcome = br#"{"feedback":[{"card":"c1","outcome":"ignored","outcomeTimestamp":"2021-12-11T10:05:31Z"}]}"#;
        assert_eq!(
            parse_feedback(bad_outcome).unwrap_err().field(),
            Some("feedback[0].outcome")
        );

        let empty_reason = br#"{"feedback":[{"card":"c1","outcome":"overridden","overrideReason":{},"outcomeTimestamp":"2021-12-11T10:05:31Z"}]}"#;
        assert_eq!(
            parse_feedback(empty_reason).unwrap_err().field(),
            Some("feedback[0].overrideReason")
        );

        let bad_ts = br#"{"feedback":[{"card":"c1","outcome":"overridden","outcomeTimestamp":"yesterday"}]}"#;
        assert_eq!(
            parse_feedback(bad_ts).unwrap_err().field(),
            Some("feedback[0].outcomeTimestamp")
        );
    }
}
