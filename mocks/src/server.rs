//! Serving a simulator's [`Router`] on a TCP port.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A router being served in a background task.
///
/// Dropping it stops the server (the task is aborted), so a test's simulators end with the
/// test. Call [`Running::detach`] to keep it serving for the life of the runtime (the
/// sandbox), or [`Running::wait`] to block on it.
#[derive(Debug)]
pub struct Running {
    /// `http://ip:port`, usable as a base URL by clients (an unspecified bind address is
    /// shown as `127.0.0.1`).
    pub base_url: String,
    /// The address actually bound (port 0 resolved).
    pub addr: SocketAddr,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// Binds `addr` (port 0 picks a free port) and serves `router` in a spawned task.
pub async fn spawn(router: Router, addr: SocketAddr) -> io::Result<Running> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Running {
        base_url: base_url(addr),
        addr,
        task: Some(task),
    })
}

/// `127.0.0.1:0`: a free port on the loopback interface, what tests want.
pub fn any_local_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

impl Running {
    /// Keeps the server running after this value is dropped, for as long as the tokio
    /// runtime lives. Returns the base URL.
    pub fn detach(mut self) -> String {
        // Dropping a JoinHandle detaches its task; taking it out keeps Drop from aborting.
        self.task.take();
        std::mem::take(&mut self.base_url)
    }

    /// Serves until the server task ends (normally never) and returns its result.
    pub async fn wait(mut self) -> io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn base_url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    async fn get_status(url: &str) -> Result<u16, reqwest::Error> {
        Ok(reqwest::get(url).await?.status().as_u16())
    }

    #[tokio::test]
    async fn a_spawned_router_answers_until_dropped() -> Result<(), Box<dyn std::error::Error>> {
        let router = Router::new().route("/", get(|| async { "ok" }));
        let running = spawn(router, any_local_port()).await?;
        let url = format!("{}/", running.base_url);
        assert_eq!(get_status(&url).await?, 200);
        drop(running);
        tokio::task::yield_now().await;
        assert!(
            get_status(&url).await.is_err(),
            "server still answering after drop"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_detached_router_keeps_answering() -> Result<(), Box<dyn std::error::Error>> {
        let router = Router::new().route("/", get(|| async { "ok" }));
        let base = spawn(router, any_local_port()).await?.detach();
        assert_eq!(get_status(&format!("{base}/")).await?, 200);
        Ok(())
    }
}
