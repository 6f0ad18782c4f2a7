"use strict";
// The dashboard works without this file; it only follows background work. A section marked
// data-poll (a job not yet over) is fetched again until it is; its content is replaced in
// place (it is an aria-live region, so the change is announced without moving focus).
async function follow(section) {
  await new Promise((done) => setTimeout(done, Number(section.dataset.poll) || 1000));
  const response = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) return; // the section keeps its refresh link
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.getElementById(section.id);
  if (fresh === null) return;
  section.replaceChildren(...fresh.childNodes);
  if (fresh.dataset.poll) {
    follow(section);
  } else {
    delete section.dataset.poll;
  }
}

document.querySelectorAll("[data-poll]").forEach(follow);
