// The join page (/join/<invite>): device check, waiting room, call.
// Native WebRTC calls run here (call.js); Jitsi/JaaS calls embed the
// provider's external_api.js; Vonage calls load the Vonage Video client.
// All text comes from /static/common/strings.js (keys join.*).

import { t } from '/static/common/strings.js';
import { WebRtcCall } from '/static/join/call.js';
import { openMedia, listDevices, fillSelect, stopStream, streamDevices, watchLevel } from '/static/join/media.js';
import { applyStrings, show, redeem, ApiFailure, formatTime, loadScript } from '/static/join/page.js';

const $ = (id) => document.getElementById(id);
const invite = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
const PREFS = 'consultd.join.devices';

const state = {
  info: null, // the last redeem answer
  stream: null,
  chatOnly: false,
  call: null,
  stopMeter: () => {},
  left: false,
};

function prefs() {
  try {
    return JSON.parse(localStorage.getItem(PREFS) || '{}');
  } catch {
    return {};
  }
}

function savePrefs(stream) {
  try {
    localStorage.setItem(PREFS, JSON.stringify(streamDevices(stream)));
  } catch {
    /* storage may be off: the defaults are used next time */
  }
}

function errorScreen(code, retry) {
  const known = {
    INVITE_NOT_FOUND: 'join.error.not_found',
    INVITE_EXPIRED: 'join.error.expired',
    INVITE_ALREADY_USED: 'join.error.already_used',
    RATE_LIMITED: 'join.error.rate_limited',
    NOT_A_PARTICIPANT: 'join.error.not_participant',
    OUTSIDE_JOIN_WINDOW: 'join.error.outside_window',
    SESSION_CLOSED: 'join.ended.text',
    NETWORK: 'join.error.network',
  };
  $('error-text').textContent = t(known[code] || 'join.error.generic');
  $('error-retry').hidden = !retry;
  $('error-retry').onclick = retry || null;
  show('screen-error');
}

function describeSession(info) {
  const parts = [];
  if (info.session.host_name) parts.push(t('join.with_host', { name: info.session.host_name }));
  if (info.session.scheduled_at) parts.push(formatTime(info.session.scheduled_at));
  $('session-line').textContent = parts.join(' · ');
  $('title').textContent = t(`join.title_${info.session.mode}`) || t('join.title');
}

function endedScreen(status) {
  state.call?.close();
  state.call = null;
  stopStream(state.stream);
  state.stopMeter();
  $('ended-title').textContent = t(state.left ? 'join.ended.left_title' : status === 'cancelled' ? 'join.ended.cancelled_title' : 'join.ended.title');
  $('ended-text').textContent = t(state.left ? 'join.ended.left_text' : 'join.ended.text');
  $('rejoin').hidden = !state.left;
  show('screen-ended');
}

// ---- 1. redeem --------------------------------------------------------------------

async function start() {
  applyStrings(document);
  if (!/^[a-z2-7]{32}$/.test(invite)) return errorScreen('INVITE_NOT_FOUND');
  try {
    state.info = await redeem(invite, false);
  } catch (e) {
    return errorScreen(e instanceof ApiFailure ? e.code : 'NETWORK', e.retryable ? start : null);
  }
  describeSession(state.info);
  const status = state.info.session.status;
  if (['ended', 'cancelled', 'failed'].includes(status)) return endedScreen(status);
  if (state.info.session.mode === 'chat') {
    state.chatOnly = true;
    return enter();
  }
  return deviceCheck();
}

// ---- 2. device check -----------------------------------------------------------------

async function deviceCheck() {
  show('screen-check');
  const video = state.info.session.mode === 'video';
  $('camera-select').parentElement.classList.toggle('no-video', !video);
  $('camera-select').hidden = !video;
  document.querySelector('label[for="camera-select"]').hidden = !video;
  $('join-button').onclick = () => enter();
  $('join-chat-only').onclick = () => {
    state.chatOnly = true;
    enter();
  };
  await openPreview({ ...prefs(), video });
  $('camera-select').onchange = () => openPreview({ videoId: $('camera-select').value, audioId: $('mic-select').value, video });
  $('mic-select').onchange = () => openPreview({ videoId: $('camera-select').value, audioId: $('mic-select').value, video });
  $('media-retry').onclick = () => openPreview({ video });
  if (!$('join-button').disabled) $('join-button').focus();
}

async function openPreview(choice) {
  state.stopMeter();
  stopStream(state.stream);
  state.stream = null;
  const { stream, problem } = await openMedia({ ...choice, audio: true });
  state.stream = stream;
  const box = $('media-problem');
  box.hidden = !problem;
  $('join-chat-only').hidden = !problem;
  $('join-button').disabled = !!problem;
  if (problem) {
    $('media-problem-title').textContent = t(`join.media.${problem}.title`);
    $('media-problem-text').textContent = t(`join.media.${problem}.text`);
    document.body.dataset.mediaProblem = problem;
  } else {
    delete document.body.dataset.mediaProblem;
  }
  $('preview').srcObject = stream;
  $('preview-off').hidden = !!stream?.getVideoTracks().length;
  const devices = await listDevices();
  const used = streamDevices(stream);
  fillSelect($('camera-select'), devices.video, used.videoId, (i) => t('join.check.camera_n', { n: i }));
  fillSelect($('mic-select'), devices.audio, used.audioId, (i) => t('join.check.microphone_n', { n: i }));
  if (stream) {
    savePrefs(stream);
    state.stopMeter = watchLevel(stream, (level) => {
      $('mic-meter').value = level;
    });
  }
}

// ---- 3. waiting room / grant -------------------------------------------------------------

async function freshGrant() {
  const info = await redeem(invite, true);
  state.info = info;
  return info.grant;
}

async function enter() {
  state.stopMeter();
  state.left = false;
  show('screen-waiting');
  $('waiting-self').srcObject = state.stream;
  $('waiting-leave').onclick = () => {
    state.left = true;
    endedScreen('left');
  };
  // Too early: wait here, asking again now and then, until the window opens.
  for (;;) {
    try {
      state.info = await redeem(invite, true);
    } catch (e) {
      if (e instanceof ApiFailure && !e.retryable) return errorScreen(e.code);
      await new Promise((r) => setTimeout(r, 5000));
      continue;
    }
    if (state.left) return;
    const { session, grant, can_join: window } = state.info;
    if (['ended', 'cancelled', 'failed'].includes(session.status)) return endedScreen(session.status);
    if (grant) break;
    $('waiting-when').textContent =
      window.reason === 'too_early' && window.minutes_until_session != null
        ? t('join.waiting.starts_in', { minutes: window.minutes_until_session })
        : t('join.waiting.not_yet');
    await new Promise((r) => setTimeout(r, 15000));
  }
  const { grant } = state.info;
  if (grant.provider === 'webrtc') return webrtcCall(grant);
  if (grant.provider === 'jitsi' || grant.provider === 'jaas') return jitsiCall(grant);
  if (grant.provider === 'vonage') return vonageCall(grant);
  return errorScreen('UNSUPPORTED');
}

// ---- 4a. native WebRTC ------------------------------------------------------------------------

function participantName(call, id) {
  if (call.self && id === call.self.id) return t('join.call.you');
  return call.participants.get(id)?.name || t('join.call.someone');
}

function setBanner(key, vars, level = 'info') {
  const banner = $('banner');
  if (!key) {
    banner.hidden = true;
    return;
  }
  banner.textContent = t(key, vars);
  banner.className = `notice notice-${level}`;
  banner.hidden = false;
}

function addChat(from, text, at, call) {
  const item = document.createElement('li');
  const who = document.createElement('strong');
  who.textContent = participantName(call, from);
  const time = document.createElement('time');
  if (at) {
    time.dateTime = at;
    time.textContent = new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  const body = document.createElement('span');
  body.className = 'chat-text';
  body.textContent = text;
  item.append(who, ' ', time, body);
  $('chat-log').append(item);
  item.scrollIntoView({ block: 'end' });
}

function remoteTile(call, id) {
  let tile = document.querySelector(`figure[data-participant="${CSS.escape(id)}"]`);
  if (!tile) {
    tile = document.createElement('figure');
    tile.className = 'tile tile-remote';
    tile.dataset.participant = id;
    const video = document.createElement('video');
    video.className = 'remote-video';
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute('aria-label', t('join.call.video_of', { name: participantName(call, id) }));
    const caption = document.createElement('figcaption');
    caption.textContent = participantName(call, id);
    const badge = document.createElement('span');
    badge.className = 'badge';
    caption.append(' ', badge);
    tile.append(video, caption);
    $('videos').prepend(tile);
  }
  return tile;
}

function webrtcCall(grant) {
  const call = new WebRtcCall({ grant, localStream: state.chatOnly ? null : state.stream, freshGrant });
  state.call = call;
  // For support and the browser tests: peer states, no secrets.
  window.consultdDiagnostics = () => call.snapshot();
  const role = state.info.participant.role;
  $('self-video').srcObject = state.stream;
  $('btn-end').hidden = role !== 'host';
  $('btn-screen').hidden = role !== 'host' || !navigator.mediaDevices?.getDisplayMedia || state.chatOnly;
  $('btn-mic').hidden = $('btn-cam').hidden = state.chatOnly || !state.stream;
  if (state.info.session.mode !== 'video') $('btn-cam').hidden = true;
  if (state.chatOnly) document.body.classList.add('chat-only');

  call.addEventListener('status', ({ detail }) => {
    if (detail.status === 'active') {
      show('screen-call');
      if (state.chatOnly) setBanner('join.call.chat_only_banner', {}, 'warning');
    } else if (!['ended', 'cancelled'].includes(detail.status)) {
      show('screen-waiting');
      $('waiting-when').textContent = t('join.waiting.connected');
    }
  });
  call.addEventListener('remote-stream', ({ detail }) => {
    const video = remoteTile(call, detail.id).querySelector('video');
    if (video.srcObject !== detail.stream) video.srcObject = detail.stream;
    video.play().catch(() => {});
  });
  call.addEventListener('participant-joined', ({ detail }) => {
    setBanner('join.call.joined', { name: detail.participant.name });
  });
  call.addEventListener('participant-left', ({ detail }) => {
    document.querySelector(`figure[data-participant="${CSS.escape(detail.id)}"]`)?.remove();
    setBanner('join.call.left', {});
  });
  call.addEventListener('media-state', ({ detail }) => {
    const badge = document.querySelector(`figure[data-participant="${CSS.escape(detail.from)}"] .badge`);
    if (!badge) return;
    const notes = [];
    if (detail.audio === false) notes.push(t('join.call.muted'));
    if (detail.video === false) notes.push(t('join.call.camera_is_off'));
    if (detail.screen) notes.push(t('join.call.sharing'));
    badge.textContent = notes.join(' · ');
  });
  call.addEventListener('chat', ({ detail }) => addChat(detail.from, detail.text, detail.at, call));
  call.addEventListener('connection', ({ detail }) => {
    if (detail.state === 'reconnecting') setBanner('join.call.reconnecting', {}, 'warning');
    if (detail.state === 'connected') setBanner(state.chatOnly ? 'join.call.chat_only_banner' : null);
  });
  call.addEventListener('peer-state', ({ detail }) => {
    if (detail.state === 'disconnected' || detail.state === 'failed') setBanner('join.call.media_reconnecting', {}, 'warning');
    if (detail.state === 'connected' || detail.state === 'completed') setBanner(null);
  });
  call.addEventListener('media-failed', () => setBanner('join.call.media_failed', {}, 'error'));
  call.addEventListener('quality', ({ detail }) => {
    const q = $('quality');
    q.dataset.level = detail.level;
    $('quality-text').textContent = t(`join.quality.${detail.level}`);
    q.title = detail.rttMs != null ? t('join.quality.detail', { rtt: Math.round(detail.rttMs), loss: detail.lossPct.toFixed(1) }) : '';
  });
  call.addEventListener('ended', ({ detail }) => endedScreen(detail.status));
  call.addEventListener('error', ({ detail }) => {
    if (detail.code === 'ROOM_FULL') setBanner('join.call.room_full', {}, 'error');
  });

  toggleButton($('btn-mic'), 'join.call.mute', 'join.call.unmute', (on) => call.setAudio(!on));
  toggleButton($('btn-cam'), 'join.call.camera_off', 'join.call.camera_on', (on) => call.setVideo(!on));
  toggleButton($('btn-screen'), 'join.call.share_screen', 'join.call.stop_sharing', async (on, button) => {
    try {
      if (on) await call.startScreenShare();
      else await call.stopScreenShare();
    } catch {
      button.setAttribute('aria-pressed', 'false');
      button.textContent = t('join.call.share_screen');
    }
  });
  $('btn-chat').onclick = () => {
    const open = $('btn-chat').getAttribute('aria-expanded') !== 'true';
    $('btn-chat').setAttribute('aria-expanded', String(open));
    $('chat').hidden = !open;
  };
  $('btn-leave').onclick = () => {
    state.left = true;
    call.leave();
    endedScreen('left');
  };
  $('waiting-leave').onclick = $('btn-leave').onclick;
  $('btn-end').onclick = () => {
    if (window.confirm(t('join.call.end_confirm'))) call.end();
  };
  $('chat-form').onsubmit = (event) => {
    event.preventDefault();
    const text = $('chat-input').value.trim();
    if (!text) return;
    if (call.sendChat(text)) $('chat-input').value = '';
    else setBanner('join.call.reconnecting', {}, 'warning');
  };
  $('rejoin').onclick = () => {
    state.left = false;
    location.reload();
  };
  call.start();
}

function toggleButton(button, offKey, onKey, apply) {
  button.onclick = async () => {
    const on = button.getAttribute('aria-pressed') !== 'true';
    button.setAttribute('aria-pressed', String(on));
    button.textContent = t(on ? onKey : offKey);
    await apply(on, button);
  };
}

// ---- 4b. Jitsi / JaaS ---------------------------------------------------------------------------

async function jitsiCall(grant) {
  stopStream(state.stream); // the provider's page opens the devices itself
  show('screen-provider');
  try {
    await loadScript(grant.client.scriptUrl);
  } catch {
    return errorScreen('PROVIDER_SCRIPT');
  }
  const chosen = prefs();
  // eslint-disable-next-line no-undef
  const api = new JitsiMeetExternalAPI(grant.client.domain, {
    roomName: grant.client.roomName,
    jwt: grant.token,
    parentNode: $('provider-frame'),
    width: '100%',
    height: '100%',
    userInfo: { displayName: state.info.participant.name },
    devices: { audioInput: chosen.audioId || undefined, videoInput: chosen.videoId || undefined },
    configOverwrite: {
      prejoinConfig: { enabled: false },
      startWithVideoMuted: grant.client.mode !== 'video',
      disableDeepLinking: true,
    },
  });
  api.addListener('readyToClose', () => endedScreen('ended'));
  api.addListener('videoConferenceLeft', () => endedScreen('ended'));
}

// ---- 4c. Vonage -----------------------------------------------------------------------------------

/** The Vonage Video (OpenTok) browser client; not testable offline (see docs/admin-guide.md). */
const VONAGE_SCRIPT = 'https://static.opentok.com/v2/js/opentok.min.js';

async function vonageCall(grant) {
  stopStream(state.stream);
  show('screen-provider');
  try {
    await loadScript(VONAGE_SCRIPT);
  } catch {
    return errorScreen('PROVIDER_SCRIPT');
  }
  const c = grant.client;
  // eslint-disable-next-line no-undef
  const OTc = window.OT;
  const session = OTc.initSession(c.application_id, c.session_id, {
    iceConfig: { includeServers: 'all', transportPolicy: 'all', customServers: grant.ice_servers || [] },
  });
  const frame = $('provider-frame');
  session.on('streamCreated', (event) => {
    session.subscribe(event.stream, frame, { insertMode: 'append', width: '100%', height: '100%' });
  });
  session.on('sessionDisconnected', () => endedScreen('ended'));
  const chosen = prefs();
  const publisher = OTc.initPublisher(frame, {
    insertMode: 'append',
    publishVideo: c.publish_video === 'true',
    publishAudio: c.publish_audio === 'true',
    audioSource: chosen.audioId || undefined,
    videoSource: c.publish_video === 'true' ? chosen.videoId || undefined : null,
    name: state.info.participant.name,
  });
  session.connect(grant.token, (error) => {
    if (error) return errorScreen('NETWORK', () => location.reload());
    if (c.mode !== 'chat') session.publish(publisher);
    return undefined;
  });
}

start();
