//! Reading length-prefixed packets from a stream.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::packet::MAX_PACKET_SIZE;

/// Why a packet could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix exceeds [`MAX_PACKET_SIZE`].
    #[error("packet of {0} bytes exceeds the maximum of {MAX_PACKET_SIZE}")]
    TooLarge(usize),
    /// The stream ended inside a packet.
    #[error("connection closed inside a packet")]
    Truncated,
    /// The rest of a started packet did not arrive in time.
    #[error("packet not completed within {0:?}")]
    Timeout(Duration),
    /// Another I/O error.
    #[error(transparent)]
    Io(io::Error),
}

fn eof_is_truncation(e: io::Error) -> FrameError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        FrameError::Truncated
    } else {
        FrameError::Io(e)
    }
}

/// Reads one packet (without its length prefix). `Ok(None)` is a clean end
/// of stream between packets. Waiting for the first byte is unbounded (an
/// idle connection, e.g. one waiting for events, is fine); once a packet has
/// started, its remaining bytes must arrive within `rest_timeout` if given.
/// The length is checked before anything is allocated.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    rest_timeout: Option<Duration>,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len = [0u8; 4];
    loop {
        match r.read(&mut len[..1]).await {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let rest = async {
        r.read_exact(&mut len[1..])
            .await
            .map_err(eof_is_truncation)?;
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_PACKET_SIZE {
            return Err(FrameError::TooLarge(n));
        }
        let mut buf = vec![0; n];
        r.read_exact(&mut buf).await.map_err(eof_is_truncation)?;
        Ok(buf)
    };
    match rest_timeout {
        Some(t) => tokio::time::timeout(t, rest)
            .await
            .map_err(|_| FrameError::Timeout(t))?
            .map(Some),
        None => rest.await.map(Some),
    }
}
