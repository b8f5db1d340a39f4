// A JSON editor for IAM policy documents: a textarea with line numbers beside it; `check()`
// parses the text and, when it is not a usable policy, marks the faulty line in the gutter and
// says what is wrong there (line and column), before anything is sent to IAM.

import { h } from "../ui.js";
import { InputError } from "./admin-common.js";

/** Where `JSON.parse`'s message places the error: {line, column} (1-based), or null. */
export function errorPosition(message, source) {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const position = /position (\d+)/.exec(message);
  if (position) return positionToLine(source, Number(position[1]));
  if (/end of (JSON )?input|Unterminated/i.test(message)) return positionToLine(source, source.length);
  return null;
}

function positionToLine(source, offset) {
  const before = source.slice(0, offset).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** The first line holding `"name"` (for structural mistakes), else 1. */
function lineOf(source, name) {
  const index = source.indexOf(`"${name}"`);
  return index < 0 ? 1 : positionToLine(source, index).line;
}

/** Structural checks IAM would refuse: {line, message} or null. */
function policyProblem(document, source) {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    return { line: 1, message: "A policy is a JSON object: { \"Version\": …, \"Statement\": … }." };
  }
  if (!("Statement" in document)) return { line: 1, message: "The policy has no \"Statement\"." };
  const statements = Array.isArray(document.Statement) ? document.Statement : [document.Statement];
  for (const statement of statements) {
    if (typeof statement !== "object" || statement === null) {
      return { line: lineOf(source, "Statement"), message: "Each statement is a JSON object." };
    }
    if (statement.Effect !== "Allow" && statement.Effect !== "Deny") {
      return { line: lineOf(source, "Effect"), message: "Each statement needs \"Effect\": \"Allow\" or \"Deny\"." };
    }
    if (!("Action" in statement) && !("NotAction" in statement)) {
      return { line: lineOf(source, "Statement"), message: "Each statement needs an \"Action\" (or \"NotAction\")." };
    }
  }
  return null;
}

/** The editor: { node, textarea, check() → text or throws InputError, showServerError(error) }. */
export function policyEditor(initial, testid) {
  const gutter = h("pre", { class: "gutter", "aria-hidden": "true" });
  const textarea = h("textarea", { testid, spellcheck: "false", rows: 14, "aria-describedby": `${testid}-error` });
  textarea.value = initial;
  const problem = h("p", { class: "editor-error", id: `${testid}-error`, role: "alert", testid: `${testid}-error` });
  let badLine = 0;
  function drawGutter() {
    const lines = textarea.value.split("\n").length;
    gutter.replaceChildren(...Array.from({ length: lines }, (_, i) =>
      h("span", { class: i + 1 === badLine ? "bad" : null }, String(i + 1))));
    gutter.scrollTop = textarea.scrollTop;
  }
  function mark(line, message) {
    badLine = line;
    problem.textContent = line ? `Line ${line}: ${message}` : message;
    drawGutter();
    if (line) {
      const lines = textarea.value.split("\n");
      const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
      textarea.focus();
      textarea.setSelectionRange(start, start + (lines[line - 1] || "").length);
    }
  }
  textarea.addEventListener("input", () => {
    if (badLine) {
      badLine = 0;
      problem.textContent = "";
    }
    drawGutter();
  });
  textarea.addEventListener("scroll", () => { gutter.scrollTop = textarea.scrollTop; });
  drawGutter();
  const label = h("label", { for: `${testid}-input` }, "Policy document (JSON)");
  textarea.id = `${testid}-input`;
  const node = h("div", { class: "field" }, label, h("div", { class: "editor" }, gutter, textarea), problem);
  return {
    node,
    textarea,
    check() {
      const source = textarea.value;
      let document;
      try {
        document = JSON.parse(source);
      } catch (error) {
        const where = errorPosition(error.message, source);
        const column = where ? `, column ${where.column}` : "";
        const what = error.message.replace(/\s*\(line \d+ column \d+\)/, "").replace(/\s*(in JSON )?at position \d+/, "");
        mark(where ? where.line : 0, `${what}${column ? ` (${column.slice(2)})` : ""}`);
        throw new InputError(`The policy is not valid JSON${where ? ` at line ${where.line}${column}` : ""}.`);
      }
      const structural = policyProblem(document, source);
      if (structural) {
        mark(structural.line, structural.message);
        throw new InputError(`The policy cannot be used: line ${structural.line}: ${structural.message}`);
      }
      mark(0, "");
      return source;
    },
    showServerError(error) {
      mark(0, `IAM refused the document: ${error.message || error.code}`);
    },
  };
}
