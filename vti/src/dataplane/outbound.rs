//! The outbound packet path: TUN reads become ESP packets on the wire,
//! sealed on several threads and sent in order.
//!
//! # Stages
//!
//! ```text
//!  vti-outN (reader of its TUNs)        vti-sealN (any)           one sender per lane at a time
//!  read, MSS clamp, SA lookup,   --->   segment offloaded   --->  in ticket order: ESP in UDP as
//!  sequence numbers, ICMP errors        reads, seal               UDP_SEGMENT trains, plain ESP
//!  (fills a Batch, ticket t)                                      on the raw socket, one sendmmsg
//! ```
//!
//! A reader ("lane") owns the TUNs it reads (interface i belongs to lane i
//! mod n), so every SA of a TUN is numbered by one thread: it takes the
//! SA's sequence numbers ([`OutboundSa::reserve`]) in read order while it
//! fills a [`Batch`], and batches get increasing tickets. Sealing needs no
//! lock (the SA's [`Sealer`] is shared), so any seal worker may take any
//! batch. Sending follows the tickets: a worker that finished a batch
//! queues it on its lane and, unless another thread is already sending
//! for the lane, sends every batch that is next in line (the others'
//! included) — so a peer sees each SA's packets in sequence-number order,
//! as one thread would have sent them (RFC 4303 §3.3.3; a replay window of
//! 32, strongSwan's default, tolerates little reordering), while sealing
//! one TCP stream uses every core. This is what wireguard-go does per peer
//! (its encryption workers and sequential sender).
//!
//! An offloaded (TSO/USO) read is looked up once: its segments share the
//! 5-tuple, so one SA lookup, one path-MTU check and one reservation of
//! sequence numbers cover all of them, and a seal worker writes each
//! segment (headers, payload copied and checksummed in one pass) straight
//! into its send buffer and seals it there. Reads that do not fit that
//! (more segments than a batch holds, a SYN, no SA, too big for the path)
//! are split by the reader and handled one packet at a time, as before.
//!
//! A small batch while nothing of its lane is in flight (a ping, a few
//! ACKs) is sealed and sent by the reader itself: no thread hop where
//! there is nothing to overlap. With one packet thread there are no seal
//! workers and every batch goes that way.
//!
//! Nothing is allocated per packet: batches, their buffers and the
//! `sendmmsg` state are allocated at start and recycled.

use super::*;
use crate::esp::Sealer;
use crate::sys::{OutMsg, SendMmsg};
use std::collections::VecDeque;
use std::sync::Condvar;

/// Packet buffers in one batch (and most packets in one).
pub(super) const BATCH_PACKETS: usize = 64;
/// Offloaded reads (64 KiB each) one batch holds.
const BATCH_BIG: usize = 8;
/// Batches per lane (filling, sealing, waiting to be sent).
const LANE_DEPTH: usize = 4;
/// A batch of at most this many packets is sealed and sent by the reader
/// when nothing of its lane is in flight.
const INLINE_MAX: usize = 8;
/// Reads of one TUN per drain round before the other TUNs get a turn.
const READS_PER_ROUND: usize = 64;
/// Most segments in one UDP_SEGMENT send (the kernel's UDP_MAX_SEGMENTS
/// is 64 on older kernels).
const GSO_MAX_SEGMENTS: usize = 64;
/// Most bytes of UDP payload in one UDP_SEGMENT send (one IP datagram).
const GSO_MAX_BYTES: usize = 65_000;
/// Size of a buffer that holds any read (an offloaded one up to 64 KiB).
const BIG: usize = HEADROOM + MAX_PACKET + TAILROOM;

/// What one item of a batch seals.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// One IP packet of `len` bytes at `HEADROOM` in buffer `buf`.
    Single { buf: usize, len: usize },
    /// The `count` segments of the offloaded read of `len` bytes at
    /// `HEADROOM` in buffer `buf`, into packet buffers `first..`.
    Offloaded {
        buf: usize,
        len: usize,
        hdr: VnetHdr,
        first: usize,
        count: usize,
    },
}

/// A packet (or an offloaded read's packets) numbered for one SA.
#[derive(Debug)]
struct Item {
    kind: Kind,
    sealer: Arc<Sealer>,
    /// Sequence number of the (first) packet.
    seq: u64,
    /// The TUN it was read from (for counters).
    slot: usize,
    remote: SocketAddr,
    local: Option<IpAddr>,
    encap: bool,
}

/// Up to [`BATCH_PACKETS`] packets on their way through the stages.
#[derive(Debug)]
pub(super) struct Batch {
    lane: usize,
    ticket: u64,
    /// Largest inner packet a packet buffer holds.
    cap: usize,
    /// `[0, BATCH_PACKETS)`: packet buffers (HEADROOM + cap + TAILROOM);
    /// then [`BATCH_BIG`] buffers of [`BIG`] bytes for offloaded reads and
    /// oversized packets.
    bufs: Vec<Vec<u8>>,
    /// Packet buffers taken.
    used: usize,
    /// Big buffers taken.
    big_used: usize,
    items: Vec<Item>,
    /// Sealed packets in sending order: (buffer, ESP packet range, item).
    sealed: Vec<(usize, std::ops::Range<usize>, usize)>,
}

impl Batch {
    fn new(lane: usize, cap: usize) -> Batch {
        let mut bufs: Vec<Vec<u8>> = (0..BATCH_PACKETS)
            .map(|_| vec![0u8; HEADROOM + cap + TAILROOM])
            .collect();
        bufs.extend((0..BATCH_BIG).map(|_| vec![0u8; BIG]));
        Batch {
            lane,
            ticket: 0,
            cap,
            bufs,
            used: 0,
            big_used: 0,
            items: Vec::with_capacity(BATCH_PACKETS),
            sealed: Vec::with_capacity(BATCH_PACKETS + BATCH_BIG),
        }
    }

    fn reset(&mut self) {
        self.used = 0;
        self.big_used = 0;
        self.items.clear();
        self.sealed.clear();
    }

    fn packets_free(&self) -> usize {
        BATCH_PACKETS - self.used
    }

    /// Seal every item (any thread): offloaded reads are segmented into
    /// their packet buffers first.
    fn seal(&mut self, sh: &Shared) {
        let cap = self.cap;
        let (pkts, big) = self.bufs.split_at_mut(BATCH_PACKETS);
        for (ii, it) in self.items.iter().enumerate() {
            match it.kind {
                Kind::Single { buf, len } => {
                    let b = if buf < BATCH_PACKETS {
                        &mut pkts[buf]
                    } else {
                        &mut big[buf - BATCH_PACKETS]
                    };
                    match it.sealer.seal(b, len, it.seq) {
                        Ok(r) => self.sealed.push((buf, r, ii)),
                        Err(_) => inc(&sh.stats[it.slot].malformed),
                    }
                }
                Kind::Offloaded {
                    buf,
                    len,
                    hdr,
                    first,
                    count,
                } => {
                    let src = &big[buf - BATCH_PACKETS][HEADROOM..HEADROOM + len];
                    let Ok(mut seg) = Segmenter::new(hdr, src) else {
                        inc(&sh.stats[it.slot].malformed);
                        continue;
                    };
                    for j in 0..count {
                        let out = &mut pkts[first + j];
                        let m = seg.next_into(&mut out[HEADROOM..HEADROOM + cap]);
                        let sealed = m.and_then(|m| it.sealer.seal(out, m, it.seq + j as u64).ok());
                        match sealed {
                            Some(r) => self.sealed.push((first + j, r, ii)),
                            None => inc(&sh.stats[it.slot].malformed),
                        }
                    }
                }
            }
        }
    }
}

/// One reader's share of the pipeline.
#[derive(Debug)]
struct Lane {
    st: Mutex<LaneState>,
    /// The reader waits here for a free batch.
    freed: Condvar,
    /// The `sendmmsg` state of whoever sends for the lane.
    send: Mutex<SendMmsg>,
}

impl fmt::Debug for SendMmsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendMmsg")
    }
}

#[derive(Debug)]
struct LaneState {
    /// The ticket to send next.
    next_send: u64,
    /// Sealed batches waiting for their turn.
    sealed: Vec<Batch>,
    /// Someone is sending for this lane.
    sending: bool,
    free: Vec<Batch>,
}

/// The outbound pipeline: lanes and the seal workers' queue.
#[derive(Debug)]
pub(super) struct Pipeline {
    lanes: Vec<Lane>,
    work: Mutex<VecDeque<Batch>>,
    work_ready: Condvar,
    workers: usize,
}

impl Pipeline {
    /// `caps[l]`: the largest inner packet of lane l's TUNs; `workers`:
    /// seal threads (0: the readers seal and send everything themselves).
    pub(super) fn new(caps: &[usize], workers: usize) -> Pipeline {
        let depth = if workers == 0 { 1 } else { LANE_DEPTH };
        Pipeline {
            lanes: caps
                .iter()
                .enumerate()
                .map(|(l, &cap)| Lane {
                    st: Mutex::new(LaneState {
                        next_send: 0,
                        sealed: Vec::with_capacity(depth),
                        sending: false,
                        free: (0..depth).map(|_| Batch::new(l, cap)).collect(),
                    }),
                    freed: Condvar::new(),
                    send: Mutex::new(SendMmsg::new()),
                })
                .collect(),
            work: Mutex::new(VecDeque::with_capacity(caps.len() * depth)),
            work_ready: Condvar::new(),
            workers,
        }
    }

    /// Seal threads.
    pub(super) fn workers(&self) -> usize {
        self.workers
    }

    /// A free batch of `lane` with ticket `ticket`; `None` once stopping.
    fn take_free(&self, sh: &Shared, lane: usize, ticket: u64) -> Option<Batch> {
        let l = &self.lanes[lane];
        let mut st = lock(&l.st);
        loop {
            if let Some(mut b) = st.free.pop() {
                b.ticket = ticket;
                return Some(b);
            }
            if sh.stop.load(Ordering::Relaxed) {
                return None;
            }
            st = l
                .freed
                .wait_timeout(st, Duration::from_millis(u64::from(POLL_MS)))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Queue sealed batch `b` for sending and send whatever is next in
    /// line, unless another thread is sending for the lane (it will).
    fn finish(&self, sh: &Shared, b: Batch) {
        let l = &self.lanes[b.lane];
        let lane = b.lane;
        let mut st = lock(&l.st);
        st.sealed.push(b);
        if st.sending {
            return;
        }
        st.sending = true;
        loop {
            let next = st.next_send;
            let Some(i) = st.sealed.iter().position(|b| b.ticket == next) else {
                break;
            };
            let mut b = st.sealed.swap_remove(i);
            drop(st);
            send_batch(sh, lane, &mut lock(&l.send), &b);
            b.reset();
            st = lock(&l.st);
            st.free.push(b);
            st.next_send += 1;
            l.freed.notify_one();
        }
        st.sending = false;
    }

    /// Hand a filled batch on: sealed and sent right here if it is small
    /// and nothing of its lane is in flight (or there are no workers),
    /// else to the seal workers. Returns the batch to keep filling: the
    /// same one (emptied) or a free one; `None` once stopping.
    fn submit(&self, sh: &Shared, mut b: Batch, next_ticket: &mut u64) -> Option<Batch> {
        if b.items.is_empty() {
            b.reset();
            return Some(b);
        }
        let l = &self.lanes[b.lane];
        let lane = b.lane;
        let inline = {
            let mut st = lock(&l.st);
            let idle = st.next_send == b.ticket && !st.sending;
            let inline = idle && (self.workers == 0 || b.used <= INLINE_MAX);
            if inline {
                st.sending = true;
            }
            inline
        };
        if inline {
            b.seal(sh);
            send_batch(sh, lane, &mut lock(&l.send), &b);
            b.reset();
            {
                let mut st = lock(&l.st);
                st.next_send += 1;
                st.sending = false;
            }
            // Batches of this lane sealed meanwhile are impossible (the
            // reader, the only one to issue tickets, was busy here).
            b.ticket = *next_ticket;
            *next_ticket += 1;
            return Some(b);
        }
        lock(&self.work).push_back(b);
        self.work_ready.notify_one();
        let t = *next_ticket;
        *next_ticket += 1;
        self.take_free(sh, lane, t)
    }
}

/// Seal worker `vti-sealN`: seals any lane's batches, sends in order.
pub(super) fn seal_loop(sh: &Shared) {
    let pipe = &sh.pipe;
    loop {
        let b = {
            let mut q = lock(&pipe.work);
            loop {
                if let Some(b) = q.pop_front() {
                    break Some(b);
                }
                if sh.stop.load(Ordering::Relaxed) {
                    break None;
                }
                q = pipe
                    .work_ready
                    .wait_timeout(q, Duration::from_millis(u64::from(POLL_MS)))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
        };
        let Some(mut b) = b else { return };
        b.seal(sh);
        pipe.finish(sh, b);
    }
}

/// Reader `vti-outN` of lane `lane`: reads the TUNs of `slots`.
pub(super) fn reader_loop(sh: &Shared, lane: usize, slots: &[usize]) {
    let mut next_ticket = 1;
    let Some(cur) = sh.pipe.take_free(sh, lane, 0) else {
        return;
    };
    let mut spare = vec![0u8; BIG];
    let mut r = Reader {
        sh,
        scratch: vec![0u8; 1500],
        cur: Some(cur),
        next_ticket: &mut next_ticket,
    };
    let mut fds: Vec<PollFd<'_>> = slots
        .iter()
        .map(|&s| PollFd::new(sh.tuns[s].fd(), PollFlags::POLLIN))
        .collect();
    while !sh.stop.load(Ordering::Relaxed) {
        match poll(&mut fds, PollTimeout::from(POLL_MS)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        }
        for (&slot, fd) in slots.iter().zip(&fds) {
            if !fd.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)) {
                continue;
            }
            for _ in 0..READS_PER_ROUND {
                if !r.read_one(slot, &mut spare) {
                    break;
                }
            }
        }
        // Nothing waits in a half-filled batch while the reader polls.
        if !r.submit() {
            return;
        }
    }
}

/// The reader's state while it fills batches.
struct Reader<'a> {
    sh: &'a Shared,
    /// ICMP errors are built here.
    scratch: Vec<u8>,
    cur: Option<Batch>,
    next_ticket: &'a mut u64,
}

impl Reader<'_> {
    fn batch(&mut self) -> &mut Batch {
        // `cur` is None only after a failed submit, which ends the loop.
        self.cur.as_mut().expect("a batch to fill")
    }

    /// Hand the current batch on and take the next; false once stopping.
    fn submit(&mut self) -> bool {
        let Some(b) = self.cur.take() else {
            return false;
        };
        self.cur = self.sh.pipe.submit(self.sh, b, self.next_ticket);
        self.cur.is_some()
    }

    /// Make room for `packets` packet buffers and `big` big buffers in the
    /// current batch; false once stopping.
    fn room(&mut self, packets: usize, big: usize) -> bool {
        let b = self.batch();
        if b.packets_free() >= packets && BATCH_BIG - b.big_used >= big {
            return true;
        }
        self.submit()
    }

    /// Read one packet from the TUN of `slot` (false: nothing more to read
    /// now, or stopping) and number it, or each packet of an offloaded
    /// read, into the current batch. `spare` takes what does not fit a
    /// packet buffer (it is swapped with a batch's big buffer when kept).
    fn read_one(&mut self, slot: usize, spare: &mut Vec<u8>) -> bool {
        let sh = self.sh;
        let st = &sh.stats[slot];
        let tun = &sh.tuns[slot];
        let hl = if tun.vnet_hdr() { VNET_HDR_LEN } else { 0 };
        if !self.room(1, 0) {
            return false;
        }
        let b = self.cur.as_mut().expect("room() left a batch");
        let cap = b.cap;
        let k = b.used;
        // The packet buffer first; whatever does not fit continues in
        // `spare` at the same offset it would have there.
        let n = {
            let (head, _) = b.bufs[k].split_at_mut(HEADROOM + cap);
            let mut iov = [
                io::IoSliceMut::new(&mut head[HEADROOM - hl..]),
                io::IoSliceMut::new(&mut spare[HEADROOM + cap..HEADROOM + MAX_PACKET]),
            ];
            match tun.read_vectored(&mut iov) {
                Ok(n) if n > hl => n - hl,
                Ok(_) => return true,
                Err(_) => return false,
            }
        };
        let vh = if hl == 0 {
            VnetHdr::default()
        } else {
            VnetHdr::parse(&b.bufs[k][HEADROOM - hl..HEADROOM]).unwrap_or_default()
        };
        if n <= cap && !vh.is_gso() {
            if vh.needs_csum()
                && complete_checksum(&vh, &mut b.bufs[k][HEADROOM..HEADROOM + n]).is_err()
            {
                inc(&st.malformed);
                return true;
            }
            b.used += 1;
            self.single(slot, k, n);
            return true;
        }
        // Offloaded, or larger than a packet buffer: gather it in `spare`.
        let head = n.min(cap);
        spare[HEADROOM..HEADROOM + head].copy_from_slice(&b.bufs[k][HEADROOM..HEADROOM + head]);
        if !vh.is_gso() {
            if hl == 0 && n > cap {
                // Without offloads nothing exceeds the MTU; a TUN whose MTU
                // was raised under us: too big for the buffers, dropped.
                inc(&st.malformed);
                return true;
            }
            if vh.needs_csum()
                && complete_checksum(&vh, &mut spare[HEADROOM..HEADROOM + n]).is_err()
            {
                inc(&st.malformed);
                return true;
            }
            if !self.room(0, 1) {
                return false;
            }
            let id = self.keep_spare(spare);
            self.single(slot, id, n);
            return true;
        }
        inc(&st.gso_reads);
        self.offloaded(slot, vh, n, spare)
    }

    /// Move `spare` into the current batch's next big buffer (room made by
    /// the caller); returns its buffer index.
    fn keep_spare(&mut self, spare: &mut Vec<u8>) -> usize {
        let b = self.batch();
        let id = BATCH_PACKETS + b.big_used;
        b.big_used += 1;
        std::mem::swap(&mut b.bufs[id], spare);
        id
    }

    /// An offloaded read of `n` bytes at `spare[HEADROOM..]`: numbered as
    /// one item when one SA takes every segment as it is, else split here
    /// into single packets.
    fn offloaded(&mut self, slot: usize, vh: VnetHdr, n: usize, spare: &mut Vec<u8>) -> bool {
        let sh = self.sh;
        let st = &sh.stats[slot];
        let cap = self.batch().cap;
        let pkt = &spare[HEADROOM..HEADROOM + n];
        let Ok(seg) = Segmenter::new(vh, pkt) else {
            inc(&st.malformed);
            return true;
        };
        let count = seg.count();
        let fits = count <= BATCH_PACKETS && seg.max_len() <= cap;
        if fits && !mss::is_syn(pkt) {
            if let Ok(flow) = Flow::parse(pkt) {
                let df = flow.src.is_ipv6() || pkt[6] & 0x40 != 0;
                let bytes = (n + (count - 1) * seg.header_len()) as u64;
                let now = Instant::now();
                match lookup(sh, slot, &flow, count as u64, bytes, now, |max_inner| {
                    !df || seg.max_len() <= max_inner
                }) {
                    Lookup::Numbered(dest) => {
                        if !self.room(count, 1) {
                            return false;
                        }
                        let id = self.keep_spare(spare);
                        let b = self.batch();
                        let first = b.used;
                        b.used += count;
                        b.items.push(Item {
                            kind: Kind::Offloaded {
                                buf: id,
                                len: n,
                                hdr: vh,
                                first,
                                count,
                            },
                            ..dest.item(slot)
                        });
                        return true;
                    }
                    Lookup::Refused => return true,
                    Lookup::NotAsIs => {}
                }
            }
        }
        // One packet at a time, each looked up (and answered with ICMP
        // where due) on its own.
        let mut seg = seg;
        loop {
            if !self.room(1, 0) {
                return false;
            }
            let b = self.cur.as_mut().expect("room() left a batch");
            let cap = b.cap;
            let k = b.used;
            let Some(m) = seg.next_into(&mut b.bufs[k][HEADROOM..HEADROOM + cap]) else {
                break;
            };
            b.used += 1;
            self.single(slot, k, m);
        }
        true
    }

    /// One IP packet of `n` bytes at `HEADROOM` in buffer `id` of the
    /// current batch: MSS clamp, SA, path MTU, sequence number.
    fn single(&mut self, slot: usize, id: usize, n: usize) {
        let sh = self.sh;
        let st = &sh.stats[slot];
        let tun = &sh.tuns[slot];
        let b = self.cur.as_mut().expect("a batch to fill");
        let pkt = &mut b.bufs[id][HEADROOM..HEADROOM + n];
        if tun.spec().mss_clamp && mss::clamp(pkt, tun.spec().mtu) {
            inc(&st.mss);
        }
        let Ok(flow) = Flow::parse(pkt) else {
            inc(&st.malformed);
            return;
        };
        let v6 = flow.src.is_ipv6();
        let df = v6 || pkt[6] & 0x40 != 0;
        let min_mtu = if v6 { 1280 } else { 68 };
        let now = Instant::now();
        let mut too_big = None;
        let r = lookup(sh, slot, &flow, 1, n as u64, now, |max_inner| {
            let ok = n <= max_inner || !df || max_inner < min_mtu;
            if !ok {
                too_big = Some(max_inner as u32);
            }
            ok
        });
        match r {
            Lookup::Numbered(dest) => b.items.push(Item {
                kind: Kind::Single { buf: id, len: n },
                ..dest.item(slot)
            }),
            Lookup::Refused => {}
            Lookup::NotAsIs => {
                let orig = &b.bufs[id][HEADROOM..HEADROOM + n];
                let kind = match too_big {
                    Some(mtu) => {
                        inc(&st.too_big);
                        IcmpError::TooBig { mtu }
                    }
                    None => {
                        inc(&st.no_sa);
                        IcmpError::Prohibited
                    }
                };
                send_icmp(sh, slot, orig, kind, &mut self.scratch, now);
            }
        }
    }
}

/// Where a numbered packet goes, and with which SA.
struct Dest {
    sealer: Arc<Sealer>,
    seq: u64,
    remote: SocketAddr,
    local: Option<IpAddr>,
    encap: bool,
}

impl Dest {
    fn item(self, slot: usize) -> Item {
        Item {
            kind: Kind::Single { buf: 0, len: 0 },
            sealer: self.sealer,
            seq: self.seq,
            slot,
            remote: self.remote,
            local: self.local,
            encap: self.encap,
        }
    }
}

enum Lookup {
    /// Sequence numbers taken.
    Numbered(Dest),
    /// The SA refused (expired, sequence numbers exhausted): dropped, its
    /// event reported.
    Refused,
    /// No SA matches, or `fits` said no.
    NotAsIs,
}

/// The newest active SA of the TUN of `slot` whose selectors match `flow`
/// (src in local TS, dst in remote TS); if `fits(max_inner)`, reserve
/// `packets` sequence numbers for `bytes` inner bytes on it.
fn lookup(
    sh: &Shared,
    slot: usize,
    flow: &Flow,
    packets: u64,
    bytes: u64,
    now: Instant,
    fits: impl FnOnce(usize) -> bool,
) -> Lookup {
    let mut out = lock(&sh.out.slots[slot]);
    let entries = &mut *out;
    let mut best: Option<usize> = None;
    for (i, e) in entries.iter().enumerate() {
        if e.active
            && e.sa.expired().is_none()
            && best.is_none_or(|b| entries[b].serial < e.serial)
            && flow_allowed(flow, &e.local_ts, &e.remote_ts)
        {
            best = Some(i);
        }
    }
    let Some(i) = best else {
        return Lookup::NotAsIs;
    };
    let e = &mut entries[i];
    if !fits(e.max_inner) {
        return Lookup::NotAsIs;
    }
    let spi_in = e.spi_in;
    let r = e.sa.reserve(packets, bytes, now);
    let mut events = [None, None];
    for ev in &mut events {
        *ev = e.sa.take_event();
    }
    let dest = r.ok().map(|seq| Dest {
        sealer: e.sa.sealer().clone(),
        seq,
        remote: e.remote,
        local: e.local,
        encap: e.encap,
    });
    drop(out);
    for ev in events {
        emit(sh, spi_in, ev);
    }
    match dest {
        Some(d) => Lookup::Numbered(d),
        None => Lookup::Refused,
    }
}

/// The socket a message goes out on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Udp(bool),
    Raw(bool),
}

/// Send a sealed batch in order: ESP in UDP as UDP_SEGMENT trains (runs of
/// equal-sized packets to one peer from one address, the last possibly
/// shorter), plain ESP one datagram per packet on the raw socket; each
/// run of messages on one socket in one `sendmmsg`.
fn send_batch(sh: &Shared, lane: usize, mmsg: &mut SendMmsg, b: &Batch) {
    let mut iov = [io::IoSlice::new(&[]); BATCH_PACKETS + BATCH_BIG];
    let n = b.sealed.len().min(iov.len());
    for (v, (buf, r, _)) in iov.iter_mut().zip(&b.sealed) {
        *v = io::IoSlice::new(&b.bufs[*buf][r.clone()]);
    }
    let iov = &iov[..n];
    let mut msgs: [Option<(OutMsg, Via)>; BATCH_PACKETS + BATCH_BIG] =
        [None; BATCH_PACKETS + BATCH_BIG];
    let mut m = 0;
    let mut i = 0;
    while i < n {
        let it = &b.items[b.sealed[i].2];
        let v6 = it.remote.is_ipv6();
        let mut j = i + 1;
        if it.encap {
            let seg = iov[i].len();
            let mut total = seg;
            while j < n && j - i < GSO_MAX_SEGMENTS {
                let o = &b.items[b.sealed[j].2];
                let len = iov[j].len();
                if !o.encap
                    || o.remote != it.remote
                    || o.local != it.local
                    || len > seg
                    || total + len > GSO_MAX_BYTES
                {
                    break;
                }
                total += len;
                j += 1;
                if len < seg {
                    break;
                }
            }
            let gso = if j - i > 1 {
                u16::try_from(seg).ok()
            } else {
                None
            };
            msgs[m] = Some((
                OutMsg {
                    first: i,
                    count: j - i,
                    to: it.remote,
                    from: it.local,
                    gso,
                },
                Via::Udp(v6),
            ));
        } else {
            // Raw sockets take no port.
            msgs[m] = Some((
                OutMsg {
                    first: i,
                    count: 1,
                    to: SocketAddr::new(it.remote.ip(), 0),
                    from: it.local,
                    gso: None,
                },
                Via::Raw(v6),
            ));
        }
        m += 1;
        i = j;
    }
    // Consecutive messages on one socket go out together.
    let mut run: [Option<OutMsg>; BATCH_PACKETS + BATCH_BIG] = [None; BATCH_PACKETS + BATCH_BIG];
    let mut s = 0;
    while s < m {
        let Some((_, via)) = msgs[s] else { break };
        let mut e = s;
        let mut k = 0;
        while let Some(Some((msg, v))) = msgs.get(e) {
            if *v != via {
                break;
            }
            run[k] = Some(*msg);
            k += 1;
            e += 1;
        }
        send_run(sh, lane, mmsg, b, iov, &run[..k], via);
        s = e;
    }
}

/// `sendmmsg` of `run` on the socket `via`; a UDP_SEGMENT train the kernel
/// refuses is sent packet by packet; failures are counted per interface.
fn send_run(
    sh: &Shared,
    lane: usize,
    mmsg: &mut SendMmsg,
    b: &Batch,
    iov: &[io::IoSlice<'_>],
    run: &[Option<OutMsg>],
    via: Via,
) {
    let slot_of = |msg: &OutMsg| b.items[b.sealed[msg.first].2].slot;
    let fail = |msg: &OutMsg| {
        let st = &sh.stats[slot_of(msg)];
        for _ in 0..msg.count {
            inc(&st.send_errors);
        }
    };
    let fd = match via {
        Via::Udp(v6) => sh.sockets.udp(v6, lane).map(|s| s.as_fd()),
        Via::Raw(false) => sh.sockets.raw4.first().map(|s| s.as_fd()),
        Via::Raw(true) => sh.sockets.raw6.first().map(|s| s.as_fd()),
    };
    let mut msgs = [OutMsg {
        first: 0,
        count: 0,
        to: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        from: None,
        gso: None,
    }; BATCH_PACKETS + BATCH_BIG];
    let k = run.len().min(msgs.len());
    for (d, s) in msgs.iter_mut().zip(run.iter().flatten()) {
        *d = *s;
    }
    let msgs = &msgs[..k];
    let Some(fd) = fd else {
        msgs.iter().for_each(fail);
        return;
    };
    let mut at = 0;
    while at < msgs.len() {
        match mmsg.send(fd, iov, &msgs[at..]) {
            Ok(sent) if sent > 0 => at += sent,
            _ => {
                // msgs[at] failed: a train packet by packet, else counted.
                let msg = msgs[at];
                if msg.gso.is_some() {
                    for p in msg.first..msg.first + msg.count {
                        let one = OutMsg {
                            first: p,
                            count: 1,
                            gso: None,
                            ..msg
                        };
                        if !matches!(mmsg.send(fd, iov, &[one]), Ok(1)) {
                            fail(&one);
                        }
                    }
                } else {
                    fail(&msg);
                }
                at += 1;
            }
        }
    }
}
