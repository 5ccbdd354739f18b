// The exam-room kiosk (/kiosk): enrolled once with a code, then an idle
// screen (room, next consultation, clock) that joins the call by itself,
// full screen and without a click, when the host starts a session assigned
// to this device, and returns to idle when it ends. Survives network loss
// (polling with bounded backoff) and browser restarts (the device credential
// is a persistent HttpOnly cookie; camera/microphone choices in localStorage).

import { t } from '/static/common/strings.js';
import { WebRtcCall } from '/static/join/call.js';
import { openMedia, listDevices, fillSelect, stopStream, streamDevices } from '/static/join/media.js';
import { applyStrings, show, api, ApiFailure, formatTime } from '/static/join/page.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;
const MAX_BACKOFF_MS = 30000;

const kiosk = {
  device: null,
  clockSkewMs: 0,
  backoff: POLL_MS,
  call: null,
  callSession: null,
  stream: null,
  timer: null,
  joining: false,
  previewStream: null,
};

const prefsKey = () => `consultd.kiosk.devices.${kiosk.device?.id || 'unknown'}`;

function prefs() {
  try {
    return JSON.parse(localStorage.getItem(prefsKey()) || '{}');
  } catch {
    return {};
  }
}

function savePrefs(value) {
  try {
    localStorage.setItem(prefsKey(), JSON.stringify(value));
  } catch {
    /* no storage: defaults next time */
  }
}

// ---- clock ---------------------------------------------------------------------------

function tick() {
  const now = new Date(Date.now() + kiosk.clockSkewMs);
  $('clock').textContent = now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  $('date').textContent = now.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
}

// ---- polling ---------------------------------------------------------------------------

function schedule(ms) {
  clearTimeout(kiosk.timer);
  kiosk.timer = setTimeout(poll, ms);
}

async function poll() {
  let state;
  try {
    state = await api('GET', '/api/v1/kiosk/state');
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 401) {
      leaveCall();
      kiosk.device = null;
      show('screen-enroll');
      $('enroll-code').focus();
      return;
    }
    // Network loss or a daemon restart: keep the screen, retry with backoff.
    $('offline').hidden = false;
    kiosk.backoff = Math.min(kiosk.backoff * 2, MAX_BACKOFF_MS);
    schedule(kiosk.backoff);
    return;
  }
  $('offline').hidden = true;
  kiosk.backoff = POLL_MS;
  const firstTime = !kiosk.device;
  kiosk.device = state.device;
  document.body.dataset.deviceId = state.device.id;
  const serverNow = Date.parse(state.server_time);
  if (Number.isFinite(serverNow)) kiosk.clockSkewMs = serverNow - Date.now();
  $('room-name').textContent = state.room_name || state.device.name;
  const next = state.next_session;
  $('next-session').textContent = next
    ? [next.scheduled_at ? formatTime(next.scheduled_at) : t('kiosk.idle.unscheduled'),
      next.host_name ? t('join.with_host', { name: next.host_name }) : ''].filter(Boolean).join(' · ')
    : t('kiosk.idle.none');
  if (firstTime) setupSettings();

  const active = state.active_session;
  if (active && !kiosk.call && !kiosk.joining) {
    joinCall(active);
  } else if (!active && kiosk.call && kiosk.call.status !== 'active') {
    leaveCall();
  }
  if (!kiosk.call && !kiosk.joining) show('screen-idle');
  schedule(POLL_MS);
}

// ---- enrollment ---------------------------------------------------------------------------

function setupEnroll() {
  $('enroll-form').onsubmit = async (event) => {
    event.preventDefault();
    const code = $('enroll-code').value;
    $('enroll-error').hidden = true;
    try {
      await api('POST', '/api/v1/kiosk/enroll', { code });
    } catch (e) {
      const key = e.code === 'INVALID_ENROLLMENT_CODE' ? 'kiosk.enroll.invalid'
        : e.code === 'RATE_LIMITED' ? 'kiosk.enroll.rate_limited' : 'kiosk.offline';
      $('enroll-error').textContent = t(key);
      $('enroll-error').hidden = false;
      return;
    }
    $('enroll-code').value = '';
    poll();
  };
}

// ---- camera / microphone settings (persist per device) --------------------------------------

async function refreshSettings() {
  stopStream(kiosk.previewStream);
  kiosk.previewStream = null;
  const chosen = prefs();
  const { stream, problem } = await openMedia(chosen);
  kiosk.previewStream = stream;
  $('settings-preview').srcObject = stream;
  $('settings-problem').hidden = !problem;
  if (problem) $('settings-problem').textContent = t(`join.media.${problem}.text`);
  const devices = await listDevices();
  const used = streamDevices(stream);
  fillSelect($('kiosk-camera'), devices.video, used.videoId, (i) => t('join.check.camera_n', { n: i }));
  fillSelect($('kiosk-mic'), devices.audio, used.audioId, (i) => t('join.check.microphone_n', { n: i }));
}

function setupSettings() {
  const save = () => {
    savePrefs({ videoId: $('kiosk-camera').value, audioId: $('kiosk-mic').value });
    refreshSettings();
  };
  $('kiosk-camera').onchange = save;
  $('kiosk-mic').onchange = save;
  $('settings').ontoggle = () => {
    if ($('settings').open) refreshSettings();
    else {
      stopStream(kiosk.previewStream);
      kiosk.previewStream = null;
    }
  };
}

// ---- the call ----------------------------------------------------------------------------------

async function grantFor(sessionId) {
  const answer = await api('POST', '/api/v1/kiosk/grant', { session_id: sessionId });
  return answer.grant;
}

async function joinCall(session) {
  kiosk.joining = true;
  try {
    if ($('settings').open) $('settings').open = false;
    stopStream(kiosk.previewStream);
    kiosk.previewStream = null;
    const grant = await grantFor(session.id);
    if (grant.provider !== 'webrtc') {
      // Kiosks run native calls; a provider page would need a click to join.
      location.assign(grant.join_url);
      return;
    }
    const { stream } = await openMedia({ ...prefs(), video: session.mode === 'video' });
    kiosk.stream = stream;
    const call = new WebRtcCall({ grant, localStream: stream, freshGrant: () => grantFor(session.id) });
    kiosk.call = call;
    // For support and the browser tests: peer states, no secrets.
    window.consultdDiagnostics = () => call.snapshot();
    kiosk.callSession = session.id;
    $('self-video').srcObject = stream;
    call.addEventListener('remote-stream', ({ detail }) => {
      let tile = document.querySelector(`figure[data-participant="${CSS.escape(detail.id)}"]`);
      if (!tile) {
        tile = document.createElement('figure');
        tile.className = 'tile tile-remote';
        tile.dataset.participant = detail.id;
        const video = document.createElement('video');
        video.className = 'remote-video';
        video.autoplay = true;
        video.playsInline = true;
        const caption = document.createElement('figcaption');
        caption.textContent = call.participants.get(detail.id)?.name || '';
        video.setAttribute('aria-label', t('join.call.video_of', { name: caption.textContent }));
        tile.append(video, caption);
        $('videos').prepend(tile);
      }
      const video = tile.querySelector('video');
      if (video.srcObject !== detail.stream) video.srcObject = detail.stream;
      video.play().catch(() => {});
    });
    call.addEventListener('participant-left', ({ detail }) => {
      document.querySelector(`figure[data-participant="${CSS.escape(detail.id)}"]`)?.remove();
    });
    call.addEventListener('connection', ({ detail }) => {
      const banner = $('banner');
      banner.hidden = detail.state !== 'reconnecting';
      banner.textContent = t('join.call.reconnecting');
    });
    call.addEventListener('quality', ({ detail }) => {
      $('quality').dataset.level = detail.level;
      $('quality-text').textContent = t(`join.quality.${detail.level}`);
    });
    call.addEventListener('ended', () => leaveCall());
    $('btn-mic').onclick = () => {
      const on = $('btn-mic').getAttribute('aria-pressed') !== 'true';
      $('btn-mic').setAttribute('aria-pressed', String(on));
      $('btn-mic').textContent = t(on ? 'join.call.unmute' : 'join.call.mute');
      call.setAudio(!on);
    };
    show('screen-call');
    document.body.dataset.inCall = 'true';
    // Launched with --kiosk the window is full screen already; otherwise try.
    document.documentElement.requestFullscreen?.().catch(() => {});
    call.start();
  } catch (e) {
    console.warn('kiosk could not join', e);
    leaveCall();
  } finally {
    kiosk.joining = false;
  }
}

function leaveCall() {
  if (kiosk.call) kiosk.call.close();
  kiosk.call = null;
  kiosk.callSession = null;
  stopStream(kiosk.stream);
  kiosk.stream = null;
  for (const tile of document.querySelectorAll('figure.tile-remote')) tile.remove();
  delete document.body.dataset.inCall;
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  if (kiosk.device) show('screen-idle');
}

applyStrings(document);
setupEnroll();
tick();
setInterval(tick, 1000);
poll();
