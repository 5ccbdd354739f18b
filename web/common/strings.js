// Every user-visible text of the web pages, in one place so the pages can be
// translated: copy this file, translate the values, keep the keys.
// Keys are grouped by page: "common.", "admin.", "join.", "kiosk.".
// Placeholders are written {name} and filled by t(key, {name: value}).

export const strings = {
  "common.app_name": "consultd",
  "common.loading": "Loading…",
  "common.error_generic": "Something went wrong. Please try again.",
  "common.error_network": "The connection to the server was lost. Retrying…",
  "common.page_missing": "This page is not available.",
  // ---- join page (web/join) ----
  "join.title": "Consultation",
  "join.title_video": "Video consultation",
  "join.title_voice": "Voice consultation",
  "join.title_chat": "Chat consultation",
  "join.skip_to_content": "Skip to content",
  "join.loading": "Opening your consultation…",
  "join.with_host": "with {name}",
  "join.retry": "Try again",
  "join.error.title": "This link cannot be used",
  "join.error.not_found": "This invitation link is not valid. Check that you opened the whole link, or ask the clinic for a new one.",
  "join.error.expired": "This invitation link has expired. Ask the clinic for a new one.",
  "join.error.already_used": "This invitation link was already opened in another browser or device. Each link works for one person. Ask the clinic for a new link.",
  "join.error.rate_limited": "Too many attempts. Please wait a minute and try again.",
  "join.error.not_participant": "You are no longer a participant of this consultation.",
  "join.error.outside_window": "This consultation cannot be joined now.",
  "join.error.network": "The clinic’s server cannot be reached. Check your internet connection and try again.",
  "join.error.generic": "Something went wrong while opening the consultation. Try again, or contact the clinic.",
  "join.check.title": "Check your camera and microphone",
  "join.check.preview_label": "Your camera preview",
  "join.check.no_preview": "No camera picture",
  "join.check.camera": "Camera",
  "join.check.microphone": "Microphone",
  "join.check.camera_n": "Camera {n}",
  "join.check.microphone_n": "Microphone {n}",
  "join.check.mic_level": "Microphone level",
  "join.check.join": "Join",
  "join.check.join_chat_only": "Continue with chat only",
  "join.check.try_again": "Try again",
  "join.media.denied.title": "Camera and microphone are blocked",
  "join.media.denied.text": "Your browser does not allow this page to use the camera and microphone. Click the camera icon in the address bar (or open the site settings), choose Allow, then press Try again. You can also continue with chat only.",
  "join.media.no-device.title": "No camera or microphone found",
  "join.media.no-device.text": "Connect a camera and a microphone (or a headset), then press Try again. You can also continue with chat only.",
  "join.media.in-use.title": "The camera or microphone is busy",
  "join.media.in-use.text": "Another program is using the camera or microphone. Close it, then press Try again.",
  "join.media.insecure.title": "This page is not secure",
  "join.media.insecure.text": "Browsers allow the camera only on secure (https) pages. Ask the clinic for a correct link.",
  "join.media.failed.title": "The camera or microphone could not be started",
  "join.media.failed.text": "Press Try again, or continue with chat only.",
  "join.waiting.title": "Waiting room",
  "join.waiting.text": "Please wait: your doctor will start the consultation.",
  "join.waiting.connected": "You are in the waiting room. The call starts when your doctor starts it.",
  "join.waiting.starts_in": "The consultation opens in {minutes} minutes. Keep this page open.",
  "join.waiting.not_yet": "The consultation is not open yet. Keep this page open.",
  "join.call.title": "Call",
  "join.call.you": "You",
  "join.call.someone": "Participant",
  "join.call.video_of": "Video of {name}",
  "join.call.controls": "Call controls",
  "join.call.mute": "Mute",
  "join.call.unmute": "Unmute",
  "join.call.camera_off": "Camera off",
  "join.call.camera_on": "Camera on",
  "join.call.share_screen": "Share screen",
  "join.call.stop_sharing": "Stop sharing",
  "join.call.chat": "Chat",
  "join.call.leave": "Leave",
  "join.call.end": "End call for everyone",
  "join.call.end_confirm": "End the consultation for everyone?",
  "join.call.muted": "muted",
  "join.call.camera_is_off": "camera off",
  "join.call.sharing": "sharing screen",
  "join.call.joined": "{name} joined",
  "join.call.left": "A participant left",
  "join.call.reconnecting": "Connection lost. Reconnecting…",
  "join.call.media_reconnecting": "The video connection is unstable. Trying to restore it…",
  "join.call.media_failed": "The video connection could not be established. You can still use the chat.",
  "join.call.chat_only_banner": "You joined with chat only. The others cannot see or hear you.",
  "join.call.room_full": "This call is full.",
  "join.chat.title": "Chat",
  "join.chat.label": "Message",
  "join.chat.placeholder": "Type a message",
  "join.chat.send": "Send",
  "join.quality.good": "Good connection",
  "join.quality.fair": "Fair connection",
  "join.quality.poor": "Poor connection",
  "join.quality.unknown": "Connecting…",
  "join.quality.detail": "Round trip {rtt} ms, {loss} % packets lost",
  "join.ended.title": "The consultation has ended",
  "join.ended.cancelled_title": "The consultation was cancelled",
  "join.ended.left_title": "You left the consultation",
  "join.ended.text": "You can close this page.",
  "join.ended.left_text": "You can join again while the consultation is running.",
  "join.ended.rejoin": "Join again",
  // ---- kiosk (web/kiosk) ----
  "kiosk.title": "Exam room",
  "kiosk.starting": "Starting…",
  "kiosk.enroll.title": "Set up this exam-room screen",
  "kiosk.enroll.text": "Type the enrollment code shown in the admin console (Devices).",
  "kiosk.enroll.code": "Enrollment code",
  "kiosk.enroll.submit": "Enroll",
  "kiosk.enroll.invalid": "This code is not valid: it may be mistyped, already used or expired. Ask for a new code.",
  "kiosk.enroll.rate_limited": "Too many attempts. Wait a minute, then try again.",
  "kiosk.idle.next": "Next consultation",
  "kiosk.idle.none": "No consultation scheduled",
  "kiosk.idle.unscheduled": "Not scheduled yet",
  "kiosk.offline": "No connection to the server. Retrying…",
  "kiosk.settings.title": "Camera and microphone",
};

/// The text for `key` with {placeholders} replaced; the key itself when it
/// is missing, so a forgotten string is visible instead of blank.
export function t(key, vars = {}) {
  const text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole);
}

/// Fills every element carrying data-i18n="key" (text) or
/// data-i18n-attr="attr:key[,attr:key]" (attributes such as aria-label).
export function applyStrings(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}
