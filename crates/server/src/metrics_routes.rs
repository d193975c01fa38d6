//! Prometheus: `GET /metrics` in the text exposition format. Request
//! latency is a histogram per endpoint (the matched route), method and
//! status class, recorded by a middleware on every route; alerts,
//! overrides, cards shown, drift PSI, open alarms and the job queue depth
//! are read from the record at scrape time (`Views::gauges`, through `App::views`).

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::Arc;

/// The latency histograms shared by every handler.
#[derive(Clone)]
pub struct HttpMetrics {
    registry: Registry,
    latency: HistogramVec,
}

impl HttpMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "bedside_http_request_duration_seconds",
                "HTTP request latency by endpoint (matched route), method and status class.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["endpoint", "method", "status"],
        )
        .expect("valid histogram definition");
        registry
            .register(Box::new(latency.clone()))
            .expect("histogram registers once");
        Self { registry, latency }
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: time the request under its matched route.
pub async fn track(State(m): State<Arc<HttpMetrics>>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = format!("{}xx", resp.status().as_u16() / 100);
    m.latency
        .with_label_values(&[endpoint.as_str(), method.as_str(), status.as_str()])
        .observe(start.elapsed().as_secs_f64());
    resp
}

fn gauge_vec(
    name: &str,
    help: &str,
    labels: &[&str],
    reg: &Registry,
) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    reg.register(Box::new(g.clone()))?;
    Ok(g)
}

/// The record's counters and gauges in a fresh registry.
fn record_registry(g: &bedside_views::monitoring::Gauges) -> prometheus::Result<Registry> {
    let reg = Registry::new();
    let alerts = gauge_vec(
        "bedside_alerts_total",
        "Alerts and escalations decided (decision records).",
        &["model"],
        &reg,
    )?;
    let overrides = gauge_vec(
        "bedside_overrides_total",
        "Cards overridden by clinicians (feedback records).",
        &["model"],
        &reg,
    )?;
    let shown = gauge_vec(
        "bedside_cards_shown_total",
        "Cards shown to clinicians (card records).",
        &["model"],
        &reg,
    )?;
    let alarms = gauge_vec(
        "bedside_governance_alarms",
        "Alarms raised at the latest governance evaluation.",
        &["model"],
        &reg,
    )?;
    let psi = GaugeVec::new(
        Opts::new(
            "bedside_drift_psi",
            "PSI per input and the score at the latest governance evaluation.",
        ),
        &["model", "feature", "reference"],
    )?;
    reg.register(Box::new(psi.clone()))?;
    let queue = IntGauge::new(
        "bedside_job_queue_depth",
        "Jobs (pathway timers) not yet done.",
    )?;
    reg.register(Box::new(queue.clone()))?;
    queue.set(g.queue_depth as i64);
    for m in &g.models {
        let l = [m.model_id.as_str()];
        alerts.with_label_values(&l).set(m.alerts as i64);
        overrides.with_label_values(&l).set(m.overrides as i64);
        shown.with_label_values(&l).set(m.cards_shown as i64);
        alarms.with_label_values(&l).set(m.alarms as i64);
        for (f, r, v) in &m.drift_psi {
            psi.with_label_values(&[m.model_id.as_str(), f.as_str(), r.as_str()])
                .set(*v);
        }
    }
    Ok(reg)
}

/// `GET /metrics`.
pub async fn metrics(State(s): State<AppState>) -> Response {
    let gauges = match s.app.views().gauges().await {
        Ok(g) => g,
        Err(e) => {
            return (
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                e.message,
            )
                .into_response()
        }
    };
    let mut families = s.metrics.registry.gather();
    match record_registry(&gauges) {
        Ok(r) => families.extend(r.gather()),
        Err(e) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}")).into_response()
        }
    }
    let mut buf = Vec::new();
    let enc = TextEncoder::new();
    if let Err(e) = enc.encode(&families, &mut buf) {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}")).into_response();
    }
    ([(header::CONTENT_TYPE, enc.format_type().to_string())], buf).into_response()
}
