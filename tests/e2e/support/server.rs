//! Servers a test runs on loopback, each stopped when its handle is dropped: the one
//! [`Server`] handle (an address and the task serving it) and the raw accept loop that
//! misbehaving servers are written on.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A background task (an accept loop, a UDP read loop) aborted when dropped, so a failing
/// test cannot leave a server running into the next one.
pub struct Task(JoinHandle<()>);

impl Task {
    /// Runs `work` on the test's runtime until it ends or this handle is dropped.
    pub fn spawn(work: impl Future<Output = ()> + Send + 'static) -> Task {
        Task(tokio::spawn(work))
    }
}

impl From<JoinHandle<()>> for Task {
    fn from(handle: JoinHandle<()>) -> Task {
        Task(handle)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A server listening on `addr`; stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: Task,
}

impl Server {
    /// A server whose accept loop the caller wrote (served on `addr`, stopped with `task`).
    pub fn from_task(addr: SocketAddr, task: JoinHandle<()>) -> Server {
        Server {
            addr,
            task: task.into(),
        }
    }

    /// A TCP server on a free loopback port whose every connection is handled by `behaviour`,
    /// each on its own task.
    pub async fn raw<F, Fut>(behaviour: F) -> Server
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Server::raw_on(listener, behaviour)
    }

    /// Like [`Server::raw`], on `listener` (to reopen a port that was closed).
    pub fn raw_on<F, Fut>(listener: TcpListener, behaviour: F) -> Server
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr().expect("addr");
        let behaviour = Arc::new(behaviour);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let behaviour = behaviour.clone();
                tokio::spawn(async move { behaviour(stream).await });
            }
        });
        Server::from_task(addr, task)
    }
}
