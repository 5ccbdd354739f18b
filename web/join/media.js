// Camera and microphone: opening them with remembered choices, listing the
// devices, and turning getUserMedia failures into a reason the page can
// explain (web/join/main.js, web/kiosk/main.js).

/**
 * Opens the camera and microphone.
 * @param {{audioId?: string, videoId?: string, audio?: boolean, video?: boolean}} choice
 * @returns {Promise<{stream: MediaStream|null, problem: null|'denied'|'no-device'|'in-use'|'insecure'|'failed'}>}
 */
export async function openMedia({ audioId = '', videoId = '', audio = true, video = true } = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { stream: null, problem: window.isSecureContext ? 'failed' : 'insecure' };
  }
  const constraints = {
    audio: audio ? (audioId ? { deviceId: { exact: audioId } } : true) : false,
    video: video ? (videoId ? { deviceId: { exact: videoId } } : { width: { ideal: 1280 }, height: { ideal: 720 } }) : false,
  };
  if (!constraints.audio && !constraints.video) return { stream: null, problem: null };
  try {
    return { stream: await navigator.mediaDevices.getUserMedia(constraints), problem: null };
  } catch (e) {
    if (e && e.name === 'OverconstrainedError' && (audioId || videoId)) {
      // A remembered device is gone: fall back to the defaults.
      return openMedia({ audio, video });
    }
    return { stream: null, problem: classify(e) };
  }
}

/** Maps a getUserMedia error to a reason. */
export function classify(error) {
  switch (error && error.name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'no-device';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'in-use';
    default:
      return 'failed';
  }
}

/** {audio: [{id, label}], video: [...]} (labels appear once permission is granted). */
export async function listDevices() {
  const out = { audio: [], video: [] };
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return out;
  const all = await navigator.mediaDevices.enumerateDevices();
  for (const d of all) {
    if (d.kind === 'audioinput') out.audio.push({ id: d.deviceId, label: d.label });
    if (d.kind === 'videoinput') out.video.push({ id: d.deviceId, label: d.label });
  }
  return out;
}

export function stopStream(stream) {
  for (const t of stream?.getTracks() || []) t.stop();
}

/** The device ids a stream really uses. */
export function streamDevices(stream) {
  const a = stream?.getAudioTracks()[0]?.getSettings().deviceId || '';
  const v = stream?.getVideoTracks()[0]?.getSettings().deviceId || '';
  return { audioId: a, videoId: v };
}

/**
 * Fills a <select> with devices; `fallbackLabel(i)` names unlabeled ones.
 */
export function fillSelect(select, devices, selectedId, fallbackLabel) {
  select.replaceChildren();
  devices.forEach((d, i) => {
    const option = document.createElement('option');
    option.value = d.id;
    option.textContent = d.label || fallbackLabel(i + 1);
    if (d.id === selectedId) option.selected = true;
    select.append(option);
  });
  select.disabled = devices.length === 0;
}

/** A rough microphone level (0..1) for a meter, calling `onLevel` ~10 times a second. Returns a stop function. */
export function watchLevel(stream, onLevel) {
  const track = stream?.getAudioTracks()[0];
  if (!track || !window.AudioContext) return () => {};
  const context = new AudioContext();
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    onLevel(Math.min(1, peak / 64));
  }, 100);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    context.close().catch(() => {});
  };
}
