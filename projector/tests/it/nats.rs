//! Test support for NATS JetStream: the server the README's commands start, and a stream of its
//! own per test that is deleted when the test ends (also when it fails).

use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::{self, stream::Config};
use uuid::Uuid;

/// `ITSM_NATS__URL`, else the local server.
pub fn url() -> String {
    std::env::var("ITSM_NATS__URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned())
}

pub async fn connect() -> async_nats::Client {
    async_nats::connect(url()).await.expect("connect to NATS")
}

/// A unique subject prefix and stream name; the stream (once someone created it) is deleted on
/// drop.
#[derive(Debug)]
pub struct TestStream {
    pub prefix: String,
    pub name: String,
    pub js: jetstream::Context,
}

impl TestStream {
    pub fn new(client: &async_nats::Client) -> TestStream {
        let id = Uuid::new_v4().simple();
        TestStream {
            prefix: format!("t{id}"),
            name: format!("T{id}"),
            js: jetstream::new(client.clone()),
        }
    }

    /// The stream's configuration and state.
    pub async fn info(&self) -> jetstream::stream::Info {
        let mut stream = self.js.get_stream(&self.name).await.expect("get stream");
        stream.info().await.expect("stream info").clone()
    }

    /// Creates the stream with `config` (name and subjects filled in).
    pub async fn create(&self, config: Config) {
        let config = Config {
            name: self.name.clone(),
            subjects: vec![format!("{}.events.>", self.prefix)],
            ..config
        };
        self.js.create_stream(config).await.expect("create stream");
    }

    /// Every message in the stream, in sequence order.
    pub async fn messages(&self) -> Vec<StreamMessage> {
        let stream = self.js.get_stream(&self.name).await.expect("get stream");
        let state = self.info().await.state;
        let mut messages = Vec::with_capacity(state.messages as usize);
        for sequence in state.first_sequence..=state.last_sequence {
            if state.messages == 0 {
                break;
            }
            let message = stream.get_raw_message(sequence).await.expect("get message");
            messages.push(message);
        }
        messages
    }
}

impl Drop for TestStream {
    /// Deletes the stream on a thread of its own (the test's runtime may be shutting down) and
    /// waits for it, so that no stream outlives its test.
    fn drop(&mut self) {
        let name = self.name.clone();
        let deleting = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = async_nats::connect(url()).await.ok()?;
                jetstream::new(client).delete_stream(&name).await.ok()
            })
        });
        let _ = deleting.join();
    }
}
