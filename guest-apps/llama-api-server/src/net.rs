//! The event loop: one thread, non-blocking sockets multiplexed with `poll_oneoff`.
//!
//! Each turn polls the listener and every connection (read interest always, so a client
//! that disconnects mid-generation is noticed at once; write interest while output is
//! pending), accepts, reads and writes what is ready, then lets [`App::tick`] generate one
//! token per busy slot. While generations run, the poll carries an already-expired timer so
//! it never blocks; when idle it blocks until a socket is ready.
//!
//! The model loads after the listener is bound. nnedge loads it on a thread of its own and
//! answers the load call with "busy" until it is done, so the loop keeps turning meanwhile
//! (every [`LOAD_POLL`]) and requests are answered `503` (`/health` says `loading`). A
//! runtime that loads in the call itself blocks the loop instead: requests sent meanwhile
//! wait in the listen backlog and are served once the load ends.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, SystemTime};

use llama_api_server::app::App;
use llama_api_server::config::ServerConfig;
use llama_api_server::job::ConnId;
use wasmedge_wasi_socket::poll::{poll, EventType, Subscription};
use wasmedge_wasi_socket::{TcpListener, TcpStream};

use crate::nn::{LoadError, NnBackend};

/// Poll user data of the listener (connections count up from 1).
const LISTENER: u64 = 0;
/// Poll user data of the "do not block" timer.
const TIMER: u64 = u64::MAX;
/// Set in a connection's user data for its write interest.
const WRITE: u64 = 1 << 62;
/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// How often the loop asks whether the model has loaded.
const LOAD_POLL: Duration = Duration::from_millis(20);

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listening socket could not be set up.
    #[error("cannot listen on {addr}: {source} (is the port in use?)")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The models could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Polling failed.
    #[error("poll_oneoff failed: {0}")]
    Poll(std::io::Error),
}

struct Server {
    listener: TcpListener,
    app: App<NnBackend>,
    streams: BTreeMap<ConnId, TcpStream>,
    next_id: ConnId,
}

/// Binds, loads the models and serves until a fatal error.
pub fn serve(config: ServerConfig) -> Result<(), ServeError> {
    let addr = config.socket_addr;
    let listener =
        TcpListener::bind(addr, true).map_err(|source| ServeError::Bind { addr, source })?;
    let mut server = Server {
        listener,
        app: App::new(config.clone()),
        streams: BTreeMap::new(),
        next_id: 0,
    };
    server.turn(Some(SystemTime::now()))?;

    eprintln!(
        "llama-api-server: loading model `{}` (alias `{}`)",
        config.chat.name, config.chat.alias
    );
    let backend = loop {
        if let Some(backend) = NnBackend::try_load(&config)? {
            break backend;
        }
        server.turn(Some(SystemTime::now() + LOAD_POLL))?;
    };
    let mut config = config;
    if let Some(note) = config.adopt_model_template(backend.model_chat_template().as_deref()) {
        eprintln!("llama-api-server: {note}");
    }
    server.app.set_template(config.template);
    server.app.ready(backend);
    let embedding = config
        .embedding
        .as_ref()
        .map(|m| format!(", embeddings `{}`", m.name))
        .unwrap_or_default();
    println!(
        "llama-api-server listening on http://{addr} (model `{}`{embedding}, template {}, {} slots)",
        config.chat.name,
        config.template.name(),
        config.parallel,
    );
    let _ = std::io::stdout().flush();
    loop {
        let deadline = server.app.has_work().then(SystemTime::now);
        server.turn(deadline)?;
        server.app.tick();
        server.flush_all();
    }
}

impl Server {
    /// Polls once and handles every ready socket; waits at most until `deadline`, or for a
    /// socket without one.
    fn turn(&mut self, deadline: Option<SystemTime>) -> Result<(), ServeError> {
        let mut subscriptions = vec![Subscription::io(
            LISTENER,
            &self.listener,
            true,
            false,
            None,
        )];
        for (&id, stream) in &self.streams {
            let read = self.app.wants_read(id);
            let write = !self.app.output(id).is_empty();
            if read || write {
                subscriptions.push(Subscription::io(id, stream, read, false, None));
            }
            if write {
                subscriptions.push(Subscription::io(id | WRITE, stream, false, true, None));
            }
        }
        if let Some(deadline) = deadline {
            subscriptions.push(Subscription::timeout(TIMER, deadline));
        }

        let events = match poll(&subscriptions) {
            Ok(events) => events,
            Err(error) if error.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(error) => return Err(ServeError::Poll(error)),
        };
        for event in events {
            match (event.userdata, event.event_type) {
                (TIMER, _) => {}
                (LISTENER, _) => self.accept_all(),
                (data, EventType::Error(_)) => self.close(data & !WRITE),
                (data, EventType::Write) => self.flush(data & !WRITE),
                (data, _) => self.read(data),
            }
        }
        self.flush_all();
        Ok(())
    }

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept(true) {
                Ok((stream, _peer)) => {
                    self.next_id += 1;
                    self.app.accept(self.next_id);
                    self.streams.insert(self.next_id, stream);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) => {
                    eprintln!("llama-api-server: accept failed: {error}");
                    return;
                }
            }
        }
    }

    fn read(&mut self, id: ConnId) {
        let mut buffer = vec![0u8; READ_CHUNK];
        while self.app.wants_read(id) {
            let Some(stream) = self.streams.get_mut(&id) else {
                return;
            };
            match stream.read(&mut buffer) {
                Ok(0) => return self.close(id),
                Ok(n) => self.app.receive(id, &buffer[..n]),
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.close(id),
            }
        }
    }

    /// Writes as much pending output as the socket takes; closes the connection when its
    /// last response is out.
    fn flush(&mut self, id: ConnId) {
        loop {
            let Some(stream) = self.streams.get_mut(&id) else {
                return;
            };
            let output = self.app.output(id);
            if output.is_empty() {
                break;
            }
            match stream.write(output) {
                Ok(0) => return self.close(id),
                Ok(n) => self.app.sent(id, n),
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.close(id),
            }
        }
        if self.app.should_close(id) {
            self.close(id);
        }
    }

    fn flush_all(&mut self) {
        let ids: Vec<ConnId> = self.streams.keys().copied().collect();
        for id in ids {
            self.flush(id);
        }
    }

    /// Drops a connection (closing its socket) and frees its slot.
    fn close(&mut self, id: ConnId) {
        self.streams.remove(&id);
        self.app.hang_up(id);
    }
}
