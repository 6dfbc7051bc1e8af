// Host tools: hosts (or anyone, when the nest's settings say so) clear the queue and switch Bender.

import { errorWords } from "./api.js";
import { $, setText, toast } from "./dom.js";

export function createHostTools(ctx, nestCode) {
  const { me, nestInfo } = ctx;
  const allowed = (mode) => Boolean(me.id && (ctx.isHost() || ctx.hosting.settings[mode] === "anyone"));
  function showTools() {
    if (!hostTools) return;
    hostTools.hidden = !(allowed("clear_mode") || allowed("bender_mode"));
    benderBtn.hidden = nestInfo.is_main || !allowed("bender_mode");
    clearBtn.hidden = !allowed("clear_mode");
  }
  const hostTools = $("#host-tools");
  const benderBtn = $("#bender-toggle");
  const clearBtn = $("#clear-btn");

  function showBender(on) {
    if (!benderBtn) return;
    nestInfo.bender_enabled = Boolean(on);
    benderBtn.classList.toggle("is-on", nestInfo.bender_enabled);
    benderBtn.setAttribute("aria-pressed", String(nestInfo.bender_enabled));
    benderBtn.title = nestInfo.bender_enabled ? "Bender keeps the queue topped up — tap to switch off" : "Bender is off — tap to let it fill the queue";
    setText($("span", benderBtn), nestInfo.bender_enabled ? "Bender on" : "Bender off");
  }

  if (hostTools) {
    showTools();
    showBender(nestInfo.bender_enabled);
    benderBtn.addEventListener("click", async () => {
      benderBtn.disabled = true;
      try {
        const meta = await ctx.api.setBender(nestCode, !nestInfo.bender_enabled);
        showBender(meta && "bender_enabled" in meta ? meta.bender_enabled : !nestInfo.bender_enabled);
      } catch (e) {
        toast(errorWords(e), "error");
      } finally {
        benderBtn.disabled = false;
      }
    });
    // Clearing is two taps, three seconds apart at most: no confirm() popups at a party.
    let armed = null;
    const disarm = () => {
      clearTimeout(armed);
      armed = null;
      clearBtn.classList.remove("is-armed");
      setText($("span", clearBtn), "Clear queue");
    };
    clearBtn.addEventListener("click", async () => {
      if (!armed) {
        clearBtn.classList.add("is-armed");
        setText($("span", clearBtn), "Tap again to clear");
        armed = setTimeout(disarm, 3000);
        return;
      }
      disarm();
      try {
        await ctx.api.clear();
        toast("Queue cleared");
      } catch (e) {
        toast(errorWords(e), "error");
      }
    });
  }

  // nest_update carries the new metadata; Bender's switch follows it on every screen.
  return {
    nestUpdated: (meta) => {
      showTools();
      if (meta && "bender_enabled" in meta) showBender(meta.bender_enabled);
    },
  };
}
