//! The y-websocket protocol for one page, sans IO: frames in, [`Effects`] out. The server owns
//! the sockets; this owns the document, who is connected and their presence.
//!
//! Messages (lib0 encoding, one or more per frame): `0` sync (`0` step 1 with a state vector,
//! `1` step 2 with an update, `2` update), `1` awareness (client id, clock, JSON state per
//! client), `3` awareness query; `2` auth is ignored. Anything else, or bytes that do not
//! decode, is a [`ProtocolError`]: the server closes that connection and logs why.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use yrs::encoding::read::Cursor;
use yrs::encoding::read::Read as _;
use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};
use yrs::sync::protocol::{
    MSG_AUTH, MSG_AWARENESS, MSG_QUERY_AWARENESS, MSG_SYNC, MSG_SYNC_STEP_1, MSG_SYNC_STEP_2, MSG_SYNC_UPDATE,
};
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, StateVector, Update};

use crate::doc::{DocError, LiveDoc};

/// A connection, numbered by the server.
pub type ConnId = u64;

/// The largest presence state one client may announce (JSON bytes).
pub const MAX_PRESENCE_BYTES: usize = 16 * 1024;
/// The most presence entries one connection may hold (a tab has one; a few for helpers).
pub const MAX_PRESENCE_PER_CONNECTION: usize = 8;

/// Why a connection's frame was refused (the connection is then closed).
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("unsupported message type {0}")]
    Unsupported(u8),
    #[error("this connection may only read the page")]
    ReadOnly,
    #[error("{0}")]
    Doc(#[from] DocError),
    #[error("presence refused: {0}")]
    Presence(String),
}

/// Who a message goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    One(ConnId),
    AllBut(ConnId),
    All,
}

/// What handling an event asks of the server, in this order: make `durable` durable, then send
/// `messages`. Nothing goes out before the updates it carries are on disk.
#[derive(Debug, Default)]
pub struct Effects {
    /// Updates to append to the log.
    pub durable: Vec<Vec<u8>>,
    pub messages: Vec<(Target, Bytes)>,
    /// The document's content changed.
    pub changed: bool,
    /// Someone arrived, left or moved their cursor.
    pub presence_changed: bool,
}

impl Effects {
    fn send(&mut self, to: Target, message: &Message) {
        self.messages.push((to, Bytes::from(message.encode_v1())));
    }

    /// Adds `other`'s effects after these.
    /// A sync update message carrying `update` as it came (not decoded and encoded again).
    fn send_update(&mut self, to: Target, update: &[u8]) {
        use yrs::encoding::write::Write as _;
        let mut frame = Vec::with_capacity(update.len() + 12);
        frame.write_var(MSG_SYNC);
        frame.write_var(MSG_SYNC_UPDATE);
        frame.write_buf(update);
        self.messages.push((to, Bytes::from(frame)));
    }

    pub fn extend(&mut self, other: Effects) {
        self.durable.extend(other.durable);
        self.messages.extend(other.messages);
        self.changed |= other.changed;
        self.presence_changed |= other.presence_changed;
    }
}

struct Peer {
    can_write: bool,
    /// Another server relaying its people (a bridge): no cap on presence entries.
    relay: bool,
    /// The awareness client ids this connection announced.
    clients: HashSet<u64>,
    /// The client ids the server told this connection about. y-websocket clients send back
    /// every change they hear of; those echoes are not theirs to make (an echo arriving after
    /// the owner left would bring a ghost back).
    told: HashSet<u64>,
}

/// One person's presence, as their client last announced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presence {
    pub client: u64,
    pub conn: ConnId,
    /// The client's JSON state (y-codemirror puts `user: {name, color}` and the cursor here).
    pub state: Arc<str>,
}

/// A decoded message; updates are decoded once, in full, before anything is applied.
pub enum Inbound {
    Step1(StateVector),
    Update { raw: Vec<u8>, decoded: Update },
    Awareness(AwarenessUpdate),
    AwarenessQuery,
    Auth,
}

/// One page's live session.
pub struct Room {
    doc: LiveDoc,
    peers: HashMap<ConnId, Peer>,
    /// Awareness by client id: clock, JSON state (`"null"`: gone), and the owning connection.
    awareness: HashMap<u64, (u32, Arc<str>, ConnId)>,
}

fn sync(message: SyncMessage) -> Message {
    Message::Sync(message)
}

impl Room {
    pub fn new(doc: LiveDoc) -> Room {
        Room { doc, peers: HashMap::new(), awareness: HashMap::new() }
    }

    pub fn doc(&self) -> &LiveDoc {
        &self.doc
    }

    /// Connections open on this page.
    pub fn connections(&self) -> usize {
        self.peers.len()
    }

    /// The people here: clients with a presence state.
    pub fn presence(&self) -> Vec<Presence> {
        let mut people: Vec<Presence> = self
            .awareness
            .iter()
            .filter(|(_, (_, state, _))| &**state != "null")
            .map(|(client, (_, state, conn))| Presence { client: *client, conn: *conn, state: state.clone() })
            .collect();
        people.sort_by_key(|p| p.client);
        people
    }

    /// A connection opens: it gets the server's state vector (so it sends what the server
    /// lacks) and everyone's presence; its own step 1 then gets the rest.
    pub fn join(&mut self, conn: ConnId, can_write: bool) -> Effects {
        self.join_as(conn, can_write, false)
    }

    /// A connection from another server relaying its people (its presence is not capped).
    pub fn join_relay(&mut self, conn: ConnId) -> Effects {
        self.join_as(conn, true, true)
    }

    fn join_as(&mut self, conn: ConnId, can_write: bool, relay: bool) -> Effects {
        let told: HashSet<u64> = self.awareness.keys().copied().collect();
        self.peers.insert(conn, Peer { can_write, relay, clients: HashSet::new(), told });
        let mut fx = Effects::default();
        fx.send(Target::One(conn), &sync(SyncMessage::SyncStep1(self.doc.state_vector())));
        if let Some(all) = self.awareness_update(None) {
            fx.send(Target::One(conn), &Message::Awareness(all));
        }
        fx
    }

    /// A connection closes: its clients' presence is removed and everyone is told.
    pub fn leave(&mut self, conn: ConnId) -> Effects {
        let mut fx = Effects::default();
        let Some(peer) = self.peers.remove(&conn) else { return fx };
        let mut gone = HashMap::new();
        for client in peer.clients {
            if let Some((clock, _, _)) = self.awareness.remove(&client) {
                gone.insert(
                    ClientID::new(client),
                    AwarenessUpdateEntry { clock: clock.wrapping_add(1), json: "null".into() },
                );
            }
        }
        if !gone.is_empty() {
            fx.presence_changed = true;
            fx.send(Target::All, &Message::Awareness(AwarenessUpdate { clients: gone }));
        }
        fx
    }

    /// An update the server made (an outside change merged in): durable, then to everyone.
    pub fn local(&mut self, update: Vec<u8>) -> Effects {
        let mut fx = Effects { changed: true, ..Effects::default() };
        fx.send(Target::All, &sync(SyncMessage::Update(update.clone())));
        fx.durable.push(update);
        fx
    }

    /// A frame from `conn`.
    pub fn receive(&mut self, conn: ConnId, frame: &[u8]) -> Result<Effects, ProtocolError> {
        let messages = decode_frame(frame)?;
        let mut fx = Effects::default();
        for message in messages {
            match message {
                Inbound::Step1(sv) => {
                    fx.send(Target::One(conn), &sync(SyncMessage::SyncStep2(self.doc.diff(&sv))));
                }
                Inbound::Update { raw: update, decoded } => {
                    if !self.peers.get(&conn).is_some_and(|p| p.can_write) {
                        return Err(ProtocolError::ReadOnly);
                    }
                    let applied = self.doc.apply_decoded(decoded)?;
                    if applied.changed {
                        fx.changed = true;
                        match applied.effective {
                            Some(part) => fx.send(Target::AllBut(conn), &sync(SyncMessage::Update(part))),
                            None => fx.send_update(Target::AllBut(conn), &update),
                        }
                        fx.durable.push(update);
                    } else if applied.pending_after && !applied.pending_before {
                        // Held until what it depends on arrives; kept so a crash keeps it too.
                        fx.durable.push(update);
                    }
                }
                Inbound::Awareness(update) => self.take_awareness(conn, update, &mut fx)?,
                Inbound::AwarenessQuery => {
                    if let Some(all) = self.awareness_update(None) {
                        fx.send(Target::One(conn), &Message::Awareness(all));
                    }
                }
                Inbound::Auth => {}
            }
        }
        Ok(fx)
    }

    fn take_awareness(&mut self, conn: ConnId, update: AwarenessUpdate, fx: &mut Effects) -> Result<(), ProtocolError> {
        let mut accepted = HashMap::new();
        for (client, entry) in update.clients {
            let id = client.get();
            if entry.json.len() > MAX_PRESENCE_BYTES {
                return Err(ProtocolError::Presence(format!(
                    "a state of {} bytes (at most {MAX_PRESENCE_BYTES})",
                    entry.json.len()
                )));
            }
            if serde_json::from_str::<serde_json::Value>(&entry.json).is_err() {
                return Err(ProtocolError::Presence("a state that is not JSON".into()));
            }
            let Some(peer) = self.peers.get_mut(&conn) else { continue };
            if !peer.clients.contains(&id) && peer.told.contains(&id) {
                // An echo of what the server relayed.
                continue;
            }
            match self.awareness.get(&id) {
                // Another connection's client: not this connection's to change.
                Some((_, _, owner)) if *owner != conn => continue,
                Some((clock, _, _)) if entry.clock <= *clock && &*entry.json != "null" => continue,
                _ => {}
            }
            if &*entry.json == "null" {
                peer.clients.remove(&id);
                self.awareness.remove(&id);
            } else {
                if !peer.relay && !peer.clients.contains(&id) && peer.clients.len() >= MAX_PRESENCE_PER_CONNECTION {
                    return Err(ProtocolError::Presence(format!(
                        "more than {MAX_PRESENCE_PER_CONNECTION} clients on one connection"
                    )));
                }
                peer.clients.insert(id);
                self.awareness.insert(id, (entry.clock, entry.json.clone(), conn));
            }
            accepted.insert(client, entry);
        }
        if !accepted.is_empty() {
            for (other, peer) in self.peers.iter_mut() {
                if *other != conn {
                    peer.told.extend(accepted.keys().map(|c| c.get()));
                }
            }
            fx.presence_changed = true;
            fx.send(Target::AllBut(conn), &Message::Awareness(AwarenessUpdate { clients: accepted }));
        }
        Ok(())
    }

    /// Everyone's presence (or `only` these clients') as one awareness update.
    fn awareness_update(&self, only: Option<&[u64]>) -> Option<AwarenessUpdate> {
        let clients: HashMap<ClientID, AwarenessUpdateEntry> = self
            .awareness
            .iter()
            .filter(|(id, _)| only.is_none_or(|o| o.contains(id)))
            .map(|(id, (clock, json, _))| {
                (ClientID::new(*id), AwarenessUpdateEntry { clock: *clock, json: json.clone() })
            })
            .collect();
        (!clients.is_empty()).then_some(AwarenessUpdate { clients })
    }
}

/// The messages of one frame; any error refuses the whole frame.
pub fn decode_frame(frame: &[u8]) -> Result<Vec<Inbound>, ProtocolError> {
    if frame.is_empty() {
        return Err(ProtocolError::Malformed("an empty frame".into()));
    }
    // Decoding is pure; yrs asserts on out-of-range client ids in debug builds, which a hostile
    // peer must not turn into a crash.
    let decoded = std::panic::catch_unwind(|| {
        let mut cursor = Cursor::new(frame);
        let mut messages = Vec::new();
        while cursor.has_content() {
            messages.push(read_message(&mut cursor)?);
        }
        Ok(messages)
    });
    decoded.unwrap_or_else(|_| Err(ProtocolError::Malformed("a value out of range".into())))
}

/// One message: its type, then (for sync) the sub-type and a length-prefixed payload.
fn read_message(cursor: &mut Cursor<'_>) -> Result<Inbound, ProtocolError> {
    let bad = |e: yrs::encoding::read::Error| ProtocolError::Malformed(e.to_string());
    let tag: u8 = cursor.read_var().map_err(bad)?;
    Ok(match tag {
        MSG_SYNC => {
            let kind: u8 = cursor.read_var().map_err(bad)?;
            let payload = cursor.read_buf().map_err(bad)?;
            match kind {
                MSG_SYNC_STEP_1 => Inbound::Step1(crate::doc::decode_state_vector(payload)?),
                MSG_SYNC_STEP_2 | MSG_SYNC_UPDATE => {
                    Inbound::Update { raw: payload.to_vec(), decoded: crate::doc::decode_update(payload)? }
                }
                other => return Err(ProtocolError::Malformed(format!("unknown sync message {other}"))),
            }
        }
        MSG_AWARENESS => {
            let payload = cursor.read_buf().map_err(bad)?;
            Inbound::Awareness(AwarenessUpdate::decode_v1(payload).map_err(bad)?)
        }
        MSG_AUTH => {
            if cursor.read_var::<u8>().map_err(bad)? == 0 {
                cursor.read_string().map_err(bad)?;
            }
            Inbound::Auth
        }
        MSG_QUERY_AWARENESS => Inbound::AwarenessQuery,
        other => return Err(ProtocolError::Unsupported(other)),
    })
}

/// The client side of the protocol, for tests and benchmarks: the frames a client sends.
pub mod client {
    use super::*;

    pub fn step1(sv: &StateVector) -> Vec<u8> {
        sync(SyncMessage::SyncStep1(sv.clone())).encode_v1()
    }

    pub fn step2(update: Vec<u8>) -> Vec<u8> {
        sync(SyncMessage::SyncStep2(update)).encode_v1()
    }

    pub fn update(update: Vec<u8>) -> Vec<u8> {
        sync(SyncMessage::Update(update)).encode_v1()
    }

    pub fn presence(client: u64, clock: u32, json: &str) -> Vec<u8> {
        let mut clients = HashMap::new();
        clients.insert(ClientID::new(client), AwarenessUpdateEntry { clock, json: json.into() });
        Message::Awareness(AwarenessUpdate { clients }).encode_v1()
    }

    /// What a client does with a frame from the server: the update it carries (step 2 or
    /// update), a state vector it must answer (step 1), or nothing to apply (presence).
    pub enum Incoming {
        Update(Vec<u8>),
        Step1(StateVector),
        Other,
    }

    pub fn read(frame: &[u8]) -> Result<Vec<Incoming>, ProtocolError> {
        Ok(decode_frame(frame)?
            .into_iter()
            .map(|m| match m {
                Inbound::Update { raw, .. } => Incoming::Update(raw),
                Inbound::Step1(sv) => Incoming::Step1(sv),
                _ => Incoming::Other,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use yrs::{Doc, GetString, Text, Transact};

    use super::*;

    /// Two edits by one client, the second after the first.
    fn two_edits(client: u64) -> (Vec<u8>, Vec<u8>, String) {
        let doc = Doc::with_client_id(client);
        let text = doc.get_or_insert_text("content");
        let first = {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "Hello");
            txn.encode_update_v1()
        };
        let second = {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 5, ", world");
            txn.encode_update_v1()
        };
        let all = text.get_string(&doc.transact());
        (first, second, all)
    }

    /// What a peer that started empty holds after the room's messages to it.
    fn peer_text(messages: &[(Target, Bytes)], peer: ConnId) -> String {
        let doc = Doc::with_client_id(99);
        let text = doc.get_or_insert_text("content");
        for (to, frame) in messages {
            let mine = match to {
                Target::One(c) => *c == peer,
                Target::AllBut(c) => *c != peer,
                Target::All => true,
            };
            for m in client::read(frame).expect("the room's frames decode") {
                if let (true, client::Incoming::Update(u)) = (mine, m) {
                    let u = Update::decode_v1(&u).expect("relayed update decodes");
                    doc.transact_mut().apply_update(u).expect("applies");
                }
            }
        }
        text.get_string(&doc.transact())
    }

    #[test]
    fn an_update_is_relayed_as_the_standard_encoding_of_it() {
        for size in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let update: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut fx = Effects::default();
            fx.send_update(Target::All, &update);
            assert_eq!(&fx.messages[0].1[..], &client::update(update)[..], "{size} bytes");
        }
    }

    #[test]
    fn updates_out_of_order_reach_peers_whole() {
        let (first, second, all) = two_edits(7);
        let mut room = Room::new(LiveDoc::seeded(""));
        room.join(1, true);
        room.join(2, true);
        let mut relayed = Vec::new();
        // The later edit first: it waits (kept durable, not relayed)...
        let fx = room.receive(1, &client::update(second)).expect("accepted");
        assert_eq!(fx.durable.len(), 1, "a waiting update is kept");
        assert!(!fx.changed);
        relayed.extend(fx.messages);
        assert_eq!(peer_text(&relayed, 2), "");
        // ...then the earlier one lets both in, and the peer gets both.
        let fx = room.receive(1, &client::update(first.clone())).expect("accepted");
        assert!(fx.changed);
        relayed.extend(fx.messages);
        assert_eq!(peer_text(&relayed, 2), all);
        assert_eq!(room.doc().text(), all);
        // In order, each update is relayed as it came.
        let mut room = Room::new(LiveDoc::seeded(""));
        room.join(1, true);
        room.join(2, true);
        let fx = room.receive(1, &client::update(first.clone())).expect("accepted");
        let sent: Vec<&Bytes> = fx.messages.iter().filter(|(t, _)| *t == Target::AllBut(1)).map(|(_, f)| f).collect();
        assert_eq!(sent, vec![&Bytes::from(client::update(first.clone()))]);
        // A repeat changes nothing and is not relayed.
        let fx = room.receive(1, &client::update(first)).expect("accepted");
        assert!(!fx.changed && fx.durable.is_empty() && fx.messages.is_empty());
    }
}
