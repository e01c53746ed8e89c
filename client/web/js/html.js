// Preact + htm, vendored (see docs/web.md): components are plain functions, templates are
// tagged literals parsed at run time without eval, and every interpolation is a text node.
import { h, render } from "../vendor/preact.module.js";
import htm from "../vendor/htm.module.js";

export { render };
export { useEffect, useRef, useState } from "../vendor/preact-hooks.module.js";
export const html = htm.bind(h);
