//! Seeded random peers edit one page through the server's protocol (the real `Room`, frames
//! delivered in random interleavings), disconnecting and reconnecting at random, editing while
//! offline; afterwards every peer and the server hold the same text, and a document restored
//! from the durable updates alone holds it too.

use std::collections::VecDeque;

use cdo_sync::protocol::client::{self, Incoming};
use cdo_sync::{LiveDoc, Room, Target};
use proptest::prelude::*;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, Text, TextRef, Transact, Update};

struct Peer {
    doc: Doc,
    text: TextRef,
    conn: Option<u64>,
    /// Frames in flight, each way, in order (a WebSocket keeps order).
    to_server: VecDeque<Vec<u8>>,
    to_peer: VecDeque<Vec<u8>>,
}

impl Peer {
    fn new(id: u64) -> Peer {
        let doc = Doc::with_client_id(id);
        let text = doc.get_or_insert_text("content");
        Peer { doc, text, conn: None, to_server: VecDeque::new(), to_peer: VecDeque::new() }
    }

    fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    fn edit(&mut self, rng: &mut fastrand::Rng) {
        let len = self.text().len();
        let update = {
            let mut txn = self.doc.transact_mut();
            if len > 0 && rng.u8(..) < 90 {
                let text = self.text.get_string(&txn);
                let at = char_boundary(&text, rng.usize(..len));
                let end = char_boundary(&text, (at + rng.usize(1..8)).min(len));
                if end > at {
                    self.text.remove_range(&mut txn, at as u32, (end - at) as u32);
                }
            } else {
                let text = self.text.get_string(&txn);
                let at = char_boundary(&text, rng.usize(..=len));
                let words = ["a", "é", "日本", "line\n", " ", "word", "🙂"];
                self.text.insert(&mut txn, at as u32, words[rng.usize(..words.len())]);
            }
            txn.encode_update_v1()
        };
        if self.conn.is_some() {
            self.to_server.push_back(client::update(update));
        }
    }

    fn receive(&mut self, frame: &[u8]) {
        for message in client::read(frame).expect("the server sends valid frames") {
            match message {
                Incoming::Update(u) => {
                    let update = Update::decode_v1(&u).expect("decodes");
                    self.doc.transact_mut().apply_update(update).expect("applies");
                }
                Incoming::Step1(sv) => {
                    let diff = self.doc.transact().encode_diff_v1(&sv);
                    self.to_server.push_back(client::step2(diff));
                }
                Incoming::Other => {}
            }
        }
    }
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn deliver(room: &mut Room, peers: &mut [Peer], durable: &mut Vec<Vec<u8>>, from: usize, frame: &[u8]) {
    let conn = peers[from].conn.expect("connected");
    let fx = room.receive(conn, frame).expect("a peer's frame is accepted");
    durable.extend(fx.durable);
    route(peers, fx.messages);
}

fn route(peers: &mut [Peer], messages: Vec<(Target, bytes::Bytes)>) {
    for (target, frame) in messages {
        for p in peers.iter_mut() {
            let Some(c) = p.conn else { continue };
            let to = match target {
                Target::One(x) => x == c,
                Target::AllBut(x) => x != c,
                Target::All => true,
            };
            if to {
                p.to_peer.push_back(frame.to_vec());
            }
        }
    }
}

/// Peer `p` connects: it sends its state vector; the room greets it.
fn connect(room: &mut Room, peers: &mut [Peer], p: usize, next_conn: &mut u64) {
    let conn = *next_conn;
    *next_conn += 1;
    peers[p].conn = Some(conn);
    let sv = peers[p].doc.transact().state_vector();
    peers[p].to_server.push_back(client::step1(&sv));
    let fx = room.join(conn, true);
    route(peers, fx.messages);
}

fn run(seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = "# Notes\n\nFirst line.\n";
    let mut room = Room::new(LiveDoc::seeded(start));
    let initial_state = room.doc().state();
    let mut durable: Vec<Vec<u8>> = Vec::new();
    let mut peers: Vec<Peer> = (0..rng.usize(2..5)).map(|i| Peer::new(1000 + i as u64)).collect();
    let mut next_conn = 1;
    for _ in 0..rng.usize(100..300) {
        let p = rng.usize(..peers.len());
        match rng.u8(..10) {
            0 => {
                // Connect (or drop the connection: frames in flight are lost).
                if let Some(conn) = peers[p].conn.take() {
                    peers[p].to_server.clear();
                    peers[p].to_peer.clear();
                    let fx = room.leave(conn);
                    route(&mut peers, fx.messages);
                } else {
                    connect(&mut room, &mut peers, p, &mut next_conn);
                }
            }
            1..=4 => peers[p].edit(&mut rng),
            5..=7 => {
                if let Some(frame) = peers[p].to_server.pop_front() {
                    deliver(&mut room, &mut peers, &mut durable, p, &frame);
                }
            }
            _ => {
                if let Some(frame) = peers[p].to_peer.pop_front() {
                    peers[p].receive(&frame);
                }
            }
        }
    }
    // Everyone reconnects and the network drains.
    for p in 0..peers.len() {
        if peers[p].conn.is_none() {
            connect(&mut room, &mut peers, p, &mut next_conn);
        }
    }
    loop {
        let mut moved = false;
        for p in 0..peers.len() {
            while let Some(frame) = peers[p].to_server.pop_front() {
                deliver(&mut room, &mut peers, &mut durable, p, &frame);
                moved = true;
            }
            while let Some(frame) = peers[p].to_peer.pop_front() {
                peers[p].receive(&frame);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    let server = room.doc().text();
    for (i, p) in peers.iter().enumerate() {
        assert_eq!(p.text(), server, "seed {seed}: peer {i} differs from the server");
    }
    let replayed = LiveDoc::restore(&initial_state, durable.iter().map(Vec::as_slice)).expect("the log replays");
    assert_eq!(replayed.text(), server, "seed {seed}: the durable updates alone rebuild the text");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn random_peers_converge(seed in any::<u64>()) {
        run(seed);
    }
}
