//! The exposition text as a stream of bounded chunks, so a scrape costs a few hundred KiB
//! whatever the number of watches, instead of one string of the whole text (4 KB per watch).
//!
//! The encoder writes into a [`ChunkSink`] on a blocking thread; each full chunk goes through
//! a channel of [`CHUNKS_IN_FLIGHT`] to the HTTP body. When the scraper reads slowly the encoder
//! waits for room, at most [`SEND_TIMEOUT`] per chunk: a scraper that stops reading, or goes
//! away, ends the encoding (and frees whatever it was reading) instead of holding it open.

use std::fmt;
#[cfg(test)]
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::{ExpositionFormat, Metrics};

/// Bytes per chunk handed to the HTTP body.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;
/// Room over [`CHUNK_BYTES`], so the write that crosses the limit rarely reallocates.
const CHUNK_SLACK: usize = 4 * 1024;
/// Chunks waiting for the HTTP body at most (on top of the one being filled).
const CHUNKS_IN_FLIGHT: usize = 2;
/// How long the encoder waits for a scraper to take a chunk before it gives up.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a streamed scrape ended early.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("encoding the metrics failed")]
    Encode,
    #[error("the metrics text ended before its end")]
    Incomplete,
    #[error("the scraper did not read for {0:?}")]
    Stalled(Duration),
    #[error("the scraper went away")]
    Gone,
}

/// One item of the stream. The text is whole only when [`Piece::End`] arrives: a channel that
/// closes without it means the encoding stopped, and the HTTP body must then fail (so the
/// scraper sees a failed scrape, never a truncated text that looks whole).
#[derive(Debug)]
pub(crate) enum Piece {
    Chunk(Bytes),
    End,
}

/// A `fmt::Write` that hands out chunks of about [`CHUNK_BYTES`] through `tx`.
struct ChunkSink {
    buf: String,
    tx: mpsc::Sender<Piece>,
    runtime: Handle,
    stopped: Option<StreamError>,
}

impl ChunkSink {
    /// Hands `item` to the body; on failure notes why (the encoder only sees `fmt::Error`).
    fn send(&mut self, item: Piece) -> fmt::Result {
        let sent = self
            .runtime
            .block_on(tokio::time::timeout(SEND_TIMEOUT, self.tx.send(item)));
        let stopped = match sent {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(_closed)) => StreamError::Gone,
            Err(_elapsed) => StreamError::Stalled(SEND_TIMEOUT),
        };
        self.stopped = Some(stopped);
        Err(fmt::Error)
    }

    fn flush(&mut self) -> fmt::Result {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(
            &mut self.buf,
            String::with_capacity(CHUNK_BYTES + CHUNK_SLACK),
        );
        self.send(Piece::Chunk(Bytes::from(full)))
    }
}

impl fmt::Write for ChunkSink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buf.push_str(s);
        if self.buf.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(())
    }
}

impl Metrics {
    /// Encodes the registry in `format` on a blocking thread, as chunks of about 64 KiB on the
    /// returned channel, then [`Piece::End`]; after a failure the channel closes without it.
    /// Outside a Tokio runtime the channel closes at once, without [`Piece::End`].
    pub(crate) fn encode_chunks(&self, format: ExpositionFormat) -> mpsc::Receiver<Piece> {
        let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let Ok(runtime) = Handle::try_current() else {
            // The channel closes without `End`: the caller answers with an error.
            tracing::error!("metrics streamed outside a Tokio runtime");
            return rx;
        };
        let metrics = self.clone();
        drop(tokio::task::spawn_blocking(move || {
            let mut sink = ChunkSink {
                buf: String::with_capacity(CHUNK_BYTES + CHUNK_SLACK),
                tx,
                runtime,
                stopped: None,
            };
            let encoded = format
                .encode_into(&metrics.inner.registry, &mut sink)
                .and_then(|()| sink.flush())
                .and_then(|()| sink.send(Piece::End));
            if encoded.is_ok() {
                return;
            }
            match sink.stopped.take() {
                Some(StreamError::Gone) => {
                    tracing::debug!("metrics scraper went away before the end of the text");
                }
                Some(stopped) => {
                    tracing::warn!(error = %stopped, "metrics scrape abandoned");
                }
                None => tracing::error!(error = %StreamError::Encode, "encoding /metrics failed"),
            }
        }));
        rx
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::sample::{snapshot, status};
    use crate::metrics::MetricsOptions;

    /// A registry whose text is a few hundred KiB.
    pub(crate) fn many_watches(count: usize) -> Metrics {
        let metrics = Metrics::new(MetricsOptions::default());
        let ready = status(&[("Ready", "True", "Polled"), ("ApiReachable", "True", "Ok")]);
        let figures = snapshot(&[("online", 3), ("offline", 1)], Vec::new());
        for i in 0..count {
            let (namespace, name) = (format!("team-{}", i % 7), format!("watch-{i}"));
            metrics.set_watch_status(&namespace, &name, &ready, Duration::from_secs(300));
            metrics.set_watch_gauges(&namespace, &name, &figures);
        }
        metrics
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_stream_is_the_whole_text_in_bounded_chunks() {
        let metrics = many_watches(2_000);
        for format in [
            ExpositionFormat::OpenMetrics,
            ExpositionFormat::PrometheusText,
        ] {
            let mut rx = metrics.encode_chunks(format);
            let (mut chunks, mut ended) = (Vec::new(), false);
            while let Some(piece) = rx.recv().await {
                match piece {
                    Piece::Chunk(chunk) if !ended => chunks.push(chunk),
                    Piece::Chunk(_) => panic!("a chunk after the end"),
                    Piece::End => ended = true,
                }
            }
            assert!(ended, "{format:?}");
            assert!(chunks.len() >= 4, "{format:?}: {} chunks", chunks.len());
            assert!(chunks.iter().all(|c| c.len() < CHUNK_BYTES + CHUNK_SLACK));
            let streamed = String::from_utf8(chunks.concat()).unwrap_or_default();
            assert_eq!(streamed, metrics.encode_as(format).unwrap_or_default());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scraper_that_goes_away_ends_the_encoding() {
        let metrics = many_watches(2_000);
        let mut rx = metrics.encode_chunks(ExpositionFormat::OpenMetrics);
        assert!(matches!(rx.recv().await, Some(Piece::Chunk(_))));
        drop(rx);
        // The encoder holds the registry through its clone of `Metrics`: once it has stopped,
        // this handle is the only one left.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&metrics.inner) > 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the encoder kept going"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
