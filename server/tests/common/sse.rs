//! Reading Server-Sent Events in tests, as a browser's EventSource would.

use std::time::Duration;

use futures::StreamExt;

/// Opens the event stream with the read token, resuming after `last_event_id` if given.
pub async fn connect(app: &super::TestApp, last_event_id: Option<i64>) -> SseReader {
    let mut req = app
        .client
        .get(app.url("/api/v1/events"))
        .bearer_auth(&app.read);
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id.to_string());
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    SseReader::new(resp)
}

/// One parsed SSE message.
#[derive(Debug, Clone)]
pub struct Msg {
    pub id: i64,
    pub event: String,
    pub data: serde_json::Value,
}

/// Reads SSE messages from a streaming response.
pub struct SseReader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
    /// The last reconnection time (`retry:`, ms) the server set, if any.
    pub retry: Option<u64>,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> Self {
        Self {
            stream: resp.bytes_stream().boxed(),
            buf: String::new(),
            retry: None,
        }
    }

    pub async fn next(&mut self) -> Msg {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(id) = id {
                    return Msg {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    };
                }
                continue; // a keep-alive comment
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("an event within 10 s")
                .expect("stream open")
                .unwrap();
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

impl SseReader {
    /// Every message until the server ends the stream (10 s at most).
    pub async fn until_end(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                };
                if let Some(ms) = field("retry:") {
                    self.retry = ms.parse().ok();
                }
                if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
                    out.push(Msg {
                        id: field("id:").and_then(|i| i.parse().ok()).unwrap_or(-1),
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    });
                }
            }
            match tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("the stream ends within 10 s")
            {
                Some(chunk) => self.buf.push_str(&String::from_utf8_lossy(&chunk.unwrap())),
                None => return out,
            }
        }
    }
}
