//! Where alert notifications go: an http(s) URL, with a link back to the dashboard
//! and an HMAC signature when configured.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use app::model::job_row_anchor;

/// How long one POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// `s` as an http(s) URL.
pub fn http_url(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("{s}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{s}: must be an http:// or https:// URL"));
    }
    Ok(url)
}

/// Where notifications go.
#[derive(Clone, Debug)]
pub struct Webhook {
    url: reqwest::Url,
    client: reqwest::Client,
    /// cronwatch's address as people reach it; notifications then link to the job.
    public_url: Option<reqwest::Url>,
    /// The key each body is signed with, when the receiver checks where it came from.
    secret: Option<Vec<u8>>,
}

impl Webhook {
    /// A webhook posting to `url`, which must be http(s).
    pub fn new(url: &str) -> Result<Self, String> {
        let url = http_url(url)?;
        let client = reqwest::Client::builder()
            .timeout(POST_TIMEOUT)
            .user_agent(concat!("cronwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            url,
            client,
            public_url: None,
            secret: None,
        })
    }

    /// Notifications will link to the alert's job on the dashboard at `public_url`.
    pub fn linking_to(self, public_url: Option<reqwest::Url>) -> Self {
        Self { public_url, ..self }
    }

    /// Each body will be signed with HMAC-SHA256 under `secret`, sent as
    /// `X-Cronwatch-Signature: sha256=<hex>` (as GitHub signs its webhooks), so that a
    /// receiver at a public address can refuse what does not come from cronwatch.
    pub fn signing_with(self, secret: Option<String>) -> Self {
        Self {
            secret: secret.map(String::into_bytes),
            ..self
        }
    }

    /// `payload` with the link to its job's row on the dashboard, when the public
    /// address is known: as `url`, and at the end of `text` for chat receivers. A
    /// deleted job has no row to link to.
    fn linked(&self, payload: &Value) -> Value {
        let mut out = payload.clone();
        let job = payload["alert"]["job"]
            .as_str()
            .filter(|_| payload["alert"]["job_deleted"] != true);
        if let (Some(base), Some(job)) = (&self.public_url, job) {
            let url = format!(
                "{}/monitoring?tab=crons&job={job}#{}",
                base.as_str().trim_end_matches('/'),
                job_row_anchor(job)
            );
            out["text"] = format!("{} {url}", payload["text"].as_str().unwrap_or_default()).into();
            out["url"] = url.into();
        }
        out
    }

    /// POSTs a notification that says it is a test (`"event": "alert.test"`), linked
    /// and signed as the real ones are.
    pub async fn send_test(&self) -> Result<(), String> {
        let payload = serde_json::json!({
            "text": "cronwatch: a test notification; alerts about stuck, late and failing jobs will arrive here",
            "event": "alert.test",
            "alert": null,
        });
        self.post(&payload).await
    }

    pub(crate) async fn post(&self, payload: &Value) -> Result<(), String> {
        let body = serde_json::to_vec(&self.linked(payload)).map_err(|e| e.to_string())?;
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, &body));
        }
        let resp = request
            .body(body)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", resp.status()))
        }
    }
}

/// The header carrying a body's signature.
pub const SIGNATURE_HEADER: &str = "x-cronwatch-signature";

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A signing secret as given on the command line: not empty.
pub fn webhook_secret(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("the webhook secret must not be empty".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_http_webhooks() {
        assert!(Webhook::new("https://hooks.example.com/T000/B000").is_ok());
        assert!(Webhook::new("http://127.0.0.1:9000/alerts").is_ok());
        assert!(Webhook::new("ftp://example.com/x").is_err());
        assert!(Webhook::new("not a url").is_err());
    }

    #[test]
    fn signatures_are_github_style_hmac_sha256() {
        // The example GitHub's webhook documentation gives.
        assert_eq!(
            signature(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert!(webhook_secret("").is_err());
    }

    #[test]
    fn with_its_public_address_a_notification_links_to_the_job() {
        let payload =
            json!({ "text": "cronwatch: nightly is late: …", "alert": { "job": "nightly" } });
        let hook = Webhook::new("http://127.0.0.1:9/hook").unwrap();
        assert_eq!(hook.linked(&payload), payload);
        let hook = hook.linking_to(Some(http_url("https://cron.example.com/").unwrap()));
        let url = "https://cron.example.com/monitoring?tab=crons&job=nightly#job-nightly";
        let linked = hook.linked(&payload);
        assert_eq!(linked["url"], url);
        assert_eq!(
            linked["text"],
            format!("cronwatch: nightly is late: … {url}")
        );
        let gone = json!({ "text": "cronwatch: nightly is no longer late: the job was deleted",
                           "alert": { "job": "nightly", "job_deleted": true } });
        assert_eq!(hook.linked(&gone), gone, "no row to link to");
    }
}
