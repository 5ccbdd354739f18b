// A native WebRTC call through the appliance's signaling (docs/webrtc.md):
// one RTCPeerConnection per other participant, "perfect negotiation"
// (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example) so either
// side may offer at any time (first contact, screen share, ICE restart)
// without glare, ICE servers from the grant (TURN of the embedded relay).
//
// Used by the join page (web/join/main.js) and the kiosk (web/kiosk/main.js).
// Events (CustomEvent, detail in parentheses):
//   joined ({self, session, participants})      status ({status})
//   participant-joined ({participant})            participant-left ({id, reason})
//   remote-stream ({id, stream})                  media-state ({from, audio, video, screen})
//   chat ({from, text, at})                       ended ({status})
//   connection ({state: 'connected'|'reconnecting'|'closed'})
//   peer-state ({id, state})                      quality ({level: 'good'|'fair'|'poor'|'unknown', rttMs, lossPct})
//   media-failed ({id})                           error ({code, message})

const MAX_BACKOFF_MS = 15000;
const DISCONNECTED_GRACE_MS = 2500;
const STATS_EVERY_MS = 2000;
const MEDIA_FAIL_MS = 25000;
const FIRST_OFFER_WAIT_MS = 3000;

export class WebRtcCall extends EventTarget {
  /**
   * @param {object} options
   * @param {object} options.grant        a join grant (provider webrtc)
   * @param {MediaStream|null} options.localStream  camera/mic (null: receive only)
   * @param {() => Promise<object|null>} options.freshGrant  a new grant when the token expired (may be null)
   */
  constructor({ grant, localStream, freshGrant }) {
    super();
    this.grant = grant;
    this.localStream = localStream;
    this.freshGrant = freshGrant || (async () => null);
    this.peers = new Map(); // id -> {pc, polite, makingOffer, ignoreOffer, role, stream, timers}
    this.participants = new Map(); // id -> {id, name, role, audio, video, screen}
    this.self = null;
    this.status = 'unknown';
    this.ws = null;
    this.closed = false;
    this.backoff = 1000;
    this.screenTrack = null;
    this.statsTimer = null;
    this.lastStats = new Map();
    this.inbox = Promise.resolve();
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  start() {
    this.connect();
    this.statsTimer = setInterval(() => this.sampleStats(), STATS_EVERY_MS);
  }

  connect() {
    if (this.closed) return;
    const ws = new WebSocket(this.grant.client.signaling_url || this.grant.join_url);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'join', token: this.grant.token }));
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      // One at a time, in arrival order: an ICE candidate must not be applied
      // before the offer that came ahead of it has been set.
      this.inbox = this.inbox
        .then(() => this.handle(message))
        .catch((e) => console.warn('signaling message failed', message.type, e));
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      this.emit('connection', { state: 'reconnecting' });
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      setTimeout(() => this.reconnect(), delay);
    };
  }

  async reconnect() {
    if (this.closed) return;
    // The signaling token may have expired while we were away.
    const expires = Date.parse(this.grant.expires_at);
    if (Number.isFinite(expires) && expires - Date.now() < 30000) {
      try {
        const next = await this.freshGrant();
        if (next) this.grant = { ...next, ice_servers: next.ice_servers || this.grant.ice_servers };
      } catch (e) {
        console.warn('no fresh grant yet', e);
      }
    }
    this.connect();
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  get active() {
    return this.status === 'active';
  }

  async handle(m) {
    switch (m.type) {
      case 'joined': {
        this.backoff = 1000;
        this.self = m.self;
        this.status = m.session.status;
        // Not resumed: the others saw us leave (or the daemon restarted) and
        // will make new peer connections for us, so ours start over too.
        // Resumed: nobody noticed; keep the connections (media does not
        // depend on the signaling socket) and restart ICE where it broke.
        if (!m.resumed) for (const id of [...this.peers.keys()]) this.dropPeer(id);
        const present = new Set();
        for (const p of m.participants) {
          present.add(p.id);
          this.participants.set(p.id, p);
        }
        // Peers that went away while we were disconnected.
        for (const id of [...this.peers.keys()]) if (!present.has(id)) this.dropPeer(id);
        for (const id of [...this.participants.keys()]) if (!present.has(id)) this.participants.delete(id);
        this.emit('connection', { state: 'connected' });
        this.emit('joined', { self: m.self, session: m.session, participants: m.participants });
        this.emit('status', { status: this.status });
        this.sendMediaState();
        if (this.active) this.connectAll();
        // Peers whose media broke while signaling was down: restart ICE.
        for (const peer of this.peers.values()) {
          if (['failed', 'disconnected'].includes(peer.pc.iceConnectionState)) peer.pc.restartIce();
        }
        break;
      }
      case 'participant-joined':
        this.participants.set(m.participant.id, { audio: true, video: true, screen: false, ...m.participant });
        this.dropPeer(m.participant.id); // a new join is a new peer connection on its side too
        this.emit('participant-joined', { participant: m.participant });
        if (this.active) this.ensurePeer(m.participant.id);
        break;
      case 'participant-left':
        this.participants.delete(m.participant_id);
        this.dropPeer(m.participant_id);
        this.emit('participant-left', { id: m.participant_id, reason: m.reason });
        break;
      case 'session-state':
        this.status = m.status;
        this.emit('status', { status: m.status });
        if (this.active) this.connectAll();
        break;
      case 'offer':
        await this.onOffer(m);
        break;
      case 'answer': {
        const peer = this.peers.get(m.from);
        if (peer && peer.pc.signalingState === 'have-local-offer') {
          peer.negotiated = true;
          await peer.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        }
        break;
      }
      case 'ice-candidate': {
        const peer = this.peers.get(m.from);
        if (!peer) break;
        try {
          await peer.pc.addIceCandidate(m.candidate);
        } catch (e) {
          if (!peer.ignoreOffer) console.warn('ICE candidate refused', e);
        }
        break;
      }
      case 'media-state': {
        const p = this.participants.get(m.from);
        if (p) Object.assign(p, { audio: m.audio ?? p.audio, video: m.video ?? p.video, screen: m.screen ?? p.screen });
        this.emit('media-state', { from: m.from, audio: m.audio, video: m.video, screen: m.screen });
        break;
      }
      case 'chat':
        this.emit('chat', { from: m.from, text: m.text, at: m.at });
        break;
      case 'ended':
        this.status = m.status || 'ended';
        this.emit('ended', { status: this.status });
        this.close();
        break;
      case 'error':
        this.emit('error', { code: m.code, message: m.message });
        if (['TOKEN_EXPIRED', 'INVALID_TOKEN'].includes(m.code)) {
          // The socket closes next; the reconnect asks for a fresh grant.
          this.grant = { ...this.grant, expires_at: new Date(0).toISOString() };
        }
        if (['SESSION_CLOSED', 'NOT_A_PARTICIPANT', 'SESSION_NOT_FOUND'].includes(m.code)) {
          this.emit('ended', { status: 'ended' });
          this.close();
        }
        break;
      default:
        break;
    }
  }

  connectAll() {
    for (const id of this.participants.keys()) this.ensurePeer(id);
  }

  ensurePeer(id) {
    if (this.peers.has(id)) return this.peers.get(id);
    const role = this.participants.get(id)?.role;
    const pc = new RTCPeerConnection({
      iceServers: this.grant.ice_servers || [],
      iceTransportPolicy: this.grant.client.ice_transport_policy === 'relay' ? 'relay' : 'all',
    });
    const peer = {
      pc,
      id,
      // The recorder does not do perfect negotiation: we always give way to it.
      polite: role === 'recorder' || (this.self && this.self.id > id),
      makingOffer: false,
      ignoreOffer: false,
      stream: new MediaStream(),
      graceTimer: null,
      mediaTimer: null,
      offerTimer: null,
      negotiated: false,
    };
    this.peers.set(id, peer);
    if (this.localStream && this.localStream.getTracks().length) {
      for (const track of this.localStream.getTracks()) {
        const sending = track.kind === 'video' && this.screenTrack ? this.screenTrack : track;
        pc.addTrack(sending, this.localStream);
      }
    } else {
      // Receive-only (no camera/microphone): still see and hear the others.
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
    const offer = async () => {
      if (!this.active || this.peers.get(id) !== peer || pc.signalingState === 'closed') return;
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        this.send({ type: 'offer', to: id, sdp: pc.localDescription.sdp });
      } catch (e) {
        console.warn('offer failed', e);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.onnegotiationneeded = () => {
      // First contact: the impolite side offers and the polite side waits for
      // that offer (both offering at once works, but costs a rollback and a
      // second ICE gathering). If none comes, the polite side offers itself.
      if (peer.polite && !peer.negotiated) {
        clearTimeout(peer.offerTimer);
        peer.offerTimer = setTimeout(() => {
          if (!peer.negotiated && pc.signalingState === 'stable') offer();
        }, FIRST_OFFER_WAIT_MS);
        return;
      }
      offer();
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.send({ type: 'ice-candidate', to: id, candidate: candidate.toJSON() });
    };
    pc.ontrack = ({ track }) => {
      if (!peer.stream.getTracks().includes(track)) peer.stream.addTrack(track);
      this.emit('remote-stream', { id, stream: peer.stream });
    };
    pc.oniceconnectionstatechange = () => {
      const state = pc.iceConnectionState;
      this.emit('peer-state', { id, state });
      clearTimeout(peer.graceTimer);
      if (state === 'connected' || state === 'completed') {
        clearTimeout(peer.mediaTimer);
        peer.mediaTimer = null;
      } else if (state === 'failed') {
        pc.restartIce();
        this.armMediaTimer(peer);
      } else if (state === 'disconnected') {
        // Often a short hiccup; restart ICE if it does not come back by itself.
        peer.graceTimer = setTimeout(() => {
          if (pc.iceConnectionState === 'disconnected') pc.restartIce();
        }, DISCONNECTED_GRACE_MS);
        this.armMediaTimer(peer);
      }
    };
    this.armMediaTimer(peer);
    return peer;
  }

  armMediaTimer(peer) {
    if (peer.mediaTimer) return;
    peer.mediaTimer = setTimeout(() => {
      peer.mediaTimer = null;
      const s = peer.pc.iceConnectionState;
      if (s !== 'connected' && s !== 'completed' && this.peers.get(peer.id) === peer) {
        this.emit('media-failed', { id: peer.id });
      }
    }, MEDIA_FAIL_MS);
  }

  async onOffer(m) {
    if (!this.participants.has(m.from)) return;
    const peer = this.ensurePeer(m.from);
    const { pc } = peer;
    const collision = peer.makingOffer || pc.signalingState !== 'stable';
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    peer.negotiated = true;
    clearTimeout(peer.offerTimer);
    await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp }); // rolls back our own offer if any
    await pc.setLocalDescription();
    this.send({ type: 'answer', to: m.from, sdp: pc.localDescription.sdp });
  }

  dropPeer(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    clearTimeout(peer.graceTimer);
    clearTimeout(peer.mediaTimer);
    clearTimeout(peer.offerTimer);
    peer.pc.close();
    this.peers.delete(id);
    this.lastStats.delete(id);
  }

  // ---- media controls -------------------------------------------------------------

  mediaState() {
    const audio = this.localStream?.getAudioTracks()[0];
    const video = this.localStream?.getVideoTracks()[0];
    return {
      audio: !!audio && audio.enabled,
      video: (!!video && video.enabled) || !!this.screenTrack,
      screen: !!this.screenTrack,
    };
  }

  sendMediaState() {
    this.send({ type: 'media-state', ...this.mediaState() });
  }

  setAudio(on) {
    for (const t of this.localStream?.getAudioTracks() || []) t.enabled = on;
    this.sendMediaState();
  }

  setVideo(on) {
    for (const t of this.localStream?.getVideoTracks() || []) t.enabled = on;
    this.sendMediaState();
  }

  async replaceVideo(track) {
    for (const peer of this.peers.values()) {
      const transceiver = peer.pc.getTransceivers().find((t) => t.receiver.track.kind === 'video');
      if (transceiver && transceiver.sender) await transceiver.sender.replaceTrack(track);
    }
  }

  /** Screen share: the camera track is replaced by the screen's on every peer. */
  async startScreenShare() {
    if (this.screenTrack) return;
    const display = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = display.getVideoTracks()[0];
    this.screenTrack = track;
    track.addEventListener('ended', () => this.stopScreenShare());
    await this.replaceVideo(track);
    this.sendMediaState();
  }

  async stopScreenShare() {
    if (!this.screenTrack) return;
    const track = this.screenTrack;
    this.screenTrack = null;
    track.stop();
    await this.replaceVideo(this.localStream?.getVideoTracks()[0] || null);
    this.sendMediaState();
  }

  sendChat(text) {
    return this.send({ type: 'chat', text });
  }

  /** Host only: ends the session for everyone. */
  end() {
    this.send({ type: 'end' });
  }

  leave() {
    this.send({ type: 'leave' });
    this.close();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.statsTimer);
    for (const id of [...this.peers.keys()]) this.dropPeer(id);
    if (this.screenTrack) this.screenTrack.stop();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
    this.emit('connection', { state: 'closed' });
  }

  /** States of the signaling socket and every peer connection, for diagnostics (no secrets). */
  snapshot() {
    return {
      status: this.status,
      self: this.self?.id,
      socket: this.ws ? this.ws.readyState : -1,
      peers: [...this.peers.values()].map((p) => ({
        id: p.id,
        polite: p.polite,
        signaling: p.pc.signalingState,
        ice: p.pc.iceConnectionState,
        gathering: p.pc.iceGatheringState,
        connection: p.pc.connectionState,
        ignoreOffer: p.ignoreOffer,
        makingOffer: p.makingOffer,
      })),
    };
  }

  // ---- network quality from getStats ---------------------------------------------------

  async sampleStats() {
    let worst = null;
    for (const [id, peer] of this.peers) {
      let rtt = null;
      let received = 0;
      let lost = 0;
      try {
        const report = await peer.pc.getStats();
        report.forEach((s) => {
          if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated && s.currentRoundTripTime != null) {
            rtt = s.currentRoundTripTime * 1000;
          }
          if (s.type === 'inbound-rtp') {
            received += s.packetsReceived || 0;
            lost += Math.max(0, s.packetsLost || 0);
          }
        });
      } catch {
        continue;
      }
      const previous = this.lastStats.get(id) || { received: 0, lost: 0 };
      this.lastStats.set(id, { received, lost });
      const dr = received - previous.received;
      const dl = lost - previous.lost;
      const lossPct = dr + dl > 0 ? (100 * dl) / (dr + dl) : 0;
      let level = 'unknown';
      if (rtt != null || dr > 0) {
        level = 'good';
        if ((rtt ?? 0) > 400 || lossPct > 8) level = 'poor';
        else if ((rtt ?? 0) > 150 || lossPct > 2) level = 'fair';
      }
      if (!['connected', 'completed'].includes(peer.pc.iceConnectionState)) level = 'poor';
      const rank = { unknown: 0, good: 1, fair: 2, poor: 3 };
      if (!worst || rank[level] > rank[worst.level]) worst = { level, rttMs: rtt, lossPct };
    }
    this.emit('quality', worst || { level: 'unknown', rttMs: null, lossPct: 0 });
  }
}
