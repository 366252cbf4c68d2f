//! `GET /metrics` for the health server: the text streamed in chunks (see `stream.rs`).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::mpsc;

use super::stream::{Piece, StreamError};
use super::{ExpositionFormat, Metrics};

/// A router serving `GET /metrics` (and `HEAD`), in OpenMetrics when the scraper's `Accept`
/// asks for it and Prometheus text 0.0.4 otherwise. Merge it into the health server's router.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(serve_metrics))
        .with_state(metrics)
}

/// The rest of the body after the first chunk: the channel's chunks, then nothing if
/// [`Piece::End`] came, else one error so the connection aborts instead of ending cleanly.
fn rest(
    rx: mpsc::Receiver<Piece>,
) -> impl futures::Stream<Item = Result<Bytes, StreamError>> + Send {
    futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Piece::Chunk(chunk)) => Some((Ok(chunk), Some(rx))),
            Some(Piece::End) => None,
            None => Some((Err(StreamError::Incomplete), None)),
        }
    })
}

async fn serve_metrics(State(metrics): State<Metrics>, headers: HeaderMap) -> Response {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = ExpositionFormat::negotiate(accept);
    let mut rx = metrics.encode_chunks(format);
    // The status line waits for the first chunk, so a text that fails before it (every text
    // under 64 KiB) still gets a 500 rather than a broken 200.
    let body = match rx.recv().await {
        Some(Piece::Chunk(first)) => Body::from_stream(futures::StreamExt::chain(
            futures::stream::once(async { Ok(first) }),
            rest(rx),
        )),
        Some(Piece::End) => Body::empty(),
        None => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics encoding failed\n",
            )
                .into_response()
        }
    };
    ([(CONTENT_TYPE, format.content_type())], body).into_response()
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::metrics::stream::tests::many_watches;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_body_is_the_one_shot_text() {
        let metrics = many_watches(1_500);
        for (accept, format) in [
            (
                "application/openmetrics-text",
                ExpositionFormat::OpenMetrics,
            ),
            ("text/plain", ExpositionFormat::PrometheusText),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, accept.parse().unwrap_or_else(|_| unreachable!()));
            let response = serve_metrics(State(metrics.clone()), headers).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[CONTENT_TYPE], format.content_type());
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
            let body = String::from_utf8(body.map(|b| b.to_vec()).unwrap_or_default());
            assert_eq!(
                body.unwrap_or_default(),
                metrics.encode_as(format).unwrap_or_default()
            );
        }
    }

    #[tokio::test]
    async fn a_text_cut_short_fails_the_body() {
        let (tx, rx) = mpsc::channel(2);
        tx.send(Piece::Chunk(Bytes::from_static(b"# HELP")))
            .await
            .ok();
        drop(tx);
        let items: Vec<_> = rest(rx).collect().await;
        assert!(matches!(
            items.as_slice(),
            [Ok(_), Err(StreamError::Incomplete)]
        ));

        let (tx, rx) = mpsc::channel(2);
        tx.send(Piece::Chunk(Bytes::from_static(b"# EOF\n")))
            .await
            .ok();
        tx.send(Piece::End).await.ok();
        drop(tx);
        let items: Vec<_> = rest(rx).collect().await;
        assert!(matches!(items.as_slice(), [Ok(_)]));
    }
}
