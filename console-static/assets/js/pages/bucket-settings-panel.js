// One panel of the bucket settings page: a titled section with its own body, message line and
// buttons; `run` disables the button while a save is in flight and says how it went in words.

import { h, mount } from "../ui.js";
import { s3Words } from "./bucket-common.js";

export function settingsPanel(testid, title, intro) {
  const body = h("div", { class: "panel-body" });
  const message = h("p", { class: "message", role: "status", testid: `${testid}-message` });
  const buttons = h("div", { class: "toolbar" });
  const section = h("section", { class: "panel", testid, "aria-labelledby": `${testid}-title` },
    h("h2", { id: `${testid}-title` }, title),
    intro ? h("p", { class: "hint" }, intro) : null,
    body, buttons, message);
  const say = (kind, words) => {
    message.className = `message ${kind}`;
    message.textContent = words || "";
  };
  return {
    section,
    body,
    say,
    loading: () => mount(body, h("p", { class: "loading" }, "Loading…")),
    show: (...nodes) => mount(body, ...nodes),
    actions: (...nodes) => mount(buttons, ...nodes),
    fail: (error) => {
      mount(body);
      say("error", `This setting could not be read. ${s3Words(error)}`);
    },
    /** Runs a save: its resolved words are shown as success (null: the step said it already). */
    async run(button, step) {
      say("", "");
      button.disabled = true;
      try {
        const words = await step();
        if (words) say("ok", words);
      } catch (error) {
        say("error", error.code || error.status ? `Not saved. ${s3Words(error)}` : error.message);
      } finally {
        button.disabled = false;
      }
    },
  };
}
