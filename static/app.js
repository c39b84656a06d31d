// Lyceum: small enhancements only; every page works without this file.
"use strict";

// Similar questions on the ask form, fetched while the title is typed (debounced) and
// announced through a polite live region.
(function similarQuestions() {
  const form = document.getElementById("ask-form");
  const title = document.getElementById("title");
  // A live region that stays in the page (empty, and so invisible, when there is nothing
  // to show): content added to it is announced.
  const results = document.getElementById("similar");
  if (!form || !title || !results || !form.dataset.similarUrl) {
    return;
  }
  const endpoint = form.dataset.similarUrl;
  let timer = null;
  let lastAsked = "";
  let controller = null;

  function show(threads) {
    results.replaceChildren();
    if (threads.length === 0) {
      return;
    }
    const heading = document.createElement("h2");
    heading.textContent = "Similar questions";
    const intro = document.createElement("p");
    intro.className = "help";
    intro.textContent = "These may already answer your question:";
    const list = document.createElement("ul");
    for (const thread of threads) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "/t/" + encodeURIComponent(thread.id);
      // textContent, never innerHTML: titles are other people's text.
      link.textContent = thread.title;
      item.append(link);
      if (thread.solved) {
        const badge = document.createElement("span");
        badge.className = "badge solved";
        badge.textContent = "Solved";
        item.append(" ", badge);
      }
      const count = document.createElement("span");
      count.className = "meta";
      const n = thread.answer_count;
      count.textContent = " · " + n + (n === 1 ? " answer" : " answers");
      item.append(count);
      list.append(item);
    }
    results.append(heading, intro, list);
  }

  async function ask(text) {
    if (controller) {
      controller.abort();
    }
    controller = new AbortController();
    try {
      const response = await fetch(endpoint + "?title=" + encodeURIComponent(text), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller.signal,
      });
      if (!response.ok) {
        return;
      }
      const body = await response.json();
      show(Array.isArray(body.threads) ? body.threads : []);
    } catch (error) {
      // Aborted by a newer keystroke, or offline: the form works without suggestions.
    }
  }

  title.addEventListener("input", function () {
    const text = title.value.trim();
    clearTimeout(timer);
    if (text.length < 3) {
      lastAsked = "";
      show([]);
      return;
    }
    timer = setTimeout(function () {
      if (text !== lastAsked) {
        lastAsked = text;
        ask(text);
      }
    }, 300);
  });
})();
