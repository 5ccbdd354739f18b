import { applyStrings } from "/static/common/strings.js";

applyStrings();
document.documentElement.dataset.ready = "1";
