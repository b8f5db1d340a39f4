// A QR code as inline SVG (for the TOTP enrolment's otpauth:// URL): the vendored
// qrcode-generator (MIT, ../../vendor/) computes the modules, this draws them as one path
// with document.createElementNS, so nothing is parsed as markup and the CSP holds.

import qrcode from "../../vendor/qrcode-generator-2.0.4.min.js";

const SVG = "http://www.w3.org/2000/svg";
const QUIET_ZONE = 4;

/** An <svg> of `text` (error correction M, the smallest version that fits). */
export function qrSvg(text, { testid, label } = {}) {
  const code = qrcode(0, "M");
  code.addData(text, "Byte");
  code.make();
  const size = code.getModuleCount();
  const full = size + QUIET_ZONE * 2;
  let path = "";
  for (let row = 0; row < size; row += 1) {
    for (let column = 0; column < size; column += 1) {
      if (code.isDark(row, column)) path += `M${column + QUIET_ZONE},${row + QUIET_ZONE}h1v1h-1z`;
    }
  }
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${full} ${full}`);
  svg.setAttribute("class", "totp-qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("shape-rendering", "crispEdges");
  if (testid) svg.dataset.testid = testid;
  const title = document.createElementNS(SVG, "title");
  title.textContent = label || "QR code";
  const background = document.createElementNS(SVG, "rect");
  background.setAttribute("width", String(full));
  background.setAttribute("height", String(full));
  background.setAttribute("fill", "#ffffff");
  const modules = document.createElementNS(SVG, "path");
  modules.setAttribute("class", "modules");
  modules.setAttribute("d", path);
  svg.append(title, background, modules);
  return svg;
}
