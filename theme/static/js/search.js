// The search page: loads search.json (built by tools/search_index.py) into MiniSearch
// and lists ranked results as the reader types. Everything is served by the site itself.
(function () {
  "use strict";
  var form = document.querySelector(".search-page-form");
  var input = document.getElementById("search-q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  if (!form || !input || !window.MiniSearch) {
    return;
  }
  var root = form.getAttribute("data-root") || ".";
  var OPTIONS = {
    fields: ["title", "tags", "summary", "text"],
    storeFields: ["title", "url", "summary", "tags", "text"],
    idField: "url",
    // Tags are a list: MiniSearch's default stringifyField joins it with commas, and its
    // tokenizer splits there, so each tag is a term and the stored field stays a list.
    searchOptions: {
      boost: { title: 4, tags: 3, summary: 1.5 },
      prefix: true,
      fuzzy: 0.2,
      combineWith: "AND"
    }
  };
  var index = null;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  // The passage of the text around the first matched term, the terms marked.
  // Built from text nodes and <mark> elements only: nothing is parsed as HTML.
  function excerpt(text, terms) {
    var lower = text.toLowerCase();
    var first = -1;
    terms.forEach(function (term) {
      var at = lower.indexOf(term.toLowerCase());
      if (at !== -1 && (first === -1 || at < first)) {
        first = at;
      }
    });
    if (first === -1) {
      return null;
    }
    var start = Math.max(0, first - 80);
    var end = Math.min(text.length, first + 160);
    var passage = (start > 0 ? "\u2026" : "") + text.slice(start, end) + (end < text.length ? "\u2026" : "");
    var pattern = new RegExp(
      "(" + terms.map(function (term) {
        return term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      }).join("|") + ")",
      "gi"
    );
    var paragraph = element("p", "search-result-excerpt");
    passage.split(pattern).forEach(function (part, index) {
      paragraph.appendChild(
        index % 2 === 1 ? element("mark", "", part) : document.createTextNode(part)
      );
    });
    return paragraph;
  }

  function render(query) {
    list.textContent = "";
    if (!index) {
      return;
    }
    if (!query.trim()) {
      status.textContent = "Type a word from a post's title, tags or text.";
      return;
    }
    var results = index.search(query);
    if (results.length === 0) {
      // Every word had to match; try again accepting any of them.
      results = index.search(query, { combineWith: "OR" });
    }
    status.textContent =
      results.length === 0
        ? "No post matches \u201c" + query + "\u201d."
        : results.length + (results.length === 1 ? " post matches" : " posts match") +
          " \u201c" + query + "\u201d.";
    results.forEach(function (result) {
      var item = element("li", "search-result");
      var heading = element("h2", "search-result-title");
      var link = element("a", "", result.title);
      link.href = root + "/" + result.url;
      heading.appendChild(link);
      item.appendChild(heading);
      if (result.summary) {
        item.appendChild(element("p", "search-result-summary", result.summary));
      }
      var passage = excerpt(result.text || "", result.terms || []);
      if (passage) {
        item.appendChild(passage);
      }
      if (result.tags && result.tags.length) {
        item.appendChild(element("p", "search-result-tags", "Tags: " + result.tags.join(", ")));
      }
      list.appendChild(item);
    });
  }

  function currentQuery() {
    return new URLSearchParams(window.location.search).get("q") || "";
  }

  input.value = currentQuery();
  status.textContent = "Loading the search index\u2026";
  fetch(form.getAttribute("data-index"))
    .then(function (response) {
      if (!response.ok) {
        throw new Error(response.status + " " + response.statusText);
      }
      return response.json();
    })
    .then(function (documents) {
      index = new window.MiniSearch(OPTIONS);
      index.addAll(documents);
      render(input.value);
    })
    .catch(function (error) {
      status.textContent = "The search index could not be loaded (" + error.message + ").";
    });

  var pending = null;
  input.addEventListener("input", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(function () {
      var url = new URL(window.location.href);
      url.searchParams.set("q", input.value);
      window.history.replaceState(null, "", url);
      render(input.value);
    }, 120);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    render(input.value);
  });
})();
