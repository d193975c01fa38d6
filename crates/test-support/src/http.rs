//! HTTP for tests: JSON in and out with reqwest, the status asserted
//! where a helper's name says so, and [`Stub`] servers (an EHR's FHIR
//! server, an identity provider's JWKS) on port 0.

use serde_json::Value;

/// A client that does not follow redirects (a test sees the 303 itself).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build an HTTP client")
}

async fn answer(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.expect("send the request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("read the answer");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `GET base + path`: the status and the JSON body (`Null` when the body
/// is not JSON).
pub async fn get(base: &str, path: &str) -> (u16, Value) {
    answer(client().get(format!("{base}{path}"))).await
}

/// `GET base + path`, which must answer 200; the JSON body.
pub async fn get_ok(base: &str, path: &str) -> Value {
    let (status, body) = get(base, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// `POST base + path` of `body` as `application/json`: the status and the
/// JSON body (`Null` when not JSON).
pub async fn post_json(base: &str, path: &str, body: &Value) -> (u16, Value) {
    answer(
        client()
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

/// `POST base + path` of `body` as `application/fhir+json`: the status
/// and the JSON body (`Null` when not JSON).
pub async fn post_fhir(base: &str, path: &str, body: &Value) -> (u16, Value) {
    answer(
        client()
            .post(format!("{base}{path}"))
            .header("content-type", "application/fhir+json")
            .body(body.to_string()),
    )
    .await
}

/// `POST base/fhir` of a Bundle, which must answer 200; the answer Bundle.
pub async fn ingest(base: &str, bundle: &Value) -> Value {
    let (status, body) = post_fhir(base, "/fhir", bundle).await;
    assert_eq!(status, 200, "POST /fhir: {body}");
    body
}

/// An axum router served on `127.0.0.1:0` until dropped.
pub struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Stub {
    /// Serve `router` (graceful shutdown when the `Stub` is dropped).
    pub async fn serve(router: axum::Router) -> Stub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    rx.await.ok();
                })
                .await
                .expect("serve the stub");
        });
        Stub {
            base,
            stop: Some(stop),
        }
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
