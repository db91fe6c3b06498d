"""A small crawler for the fuzz tests: follow a signed-in person's links, collect their forms.

Breadth-first from the home page, GET only, same site only; never the admin (Django's own),
logging out, or the downloads (exports, calendar files). Each `<form method="post">` is kept with
its action and its controls as a browser sees them: what it would send as is, and the other values
the page offers (the options of a select, each radio and checkbox, each named button).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from django.urls import Resolver404, resolve

SKIP_PREFIXES = ("/admin/", "/exports/", "/accounts/logout/", "/static/", "/api/", "/fhir/")
SKIP_SUFFIXES = (".ics", ".csv", ".json")
DISPATCH = ("step", "action")  # hidden inputs or buttons that choose what a shared view does


@dataclass
class Control:
    tag: str  # input, select, textarea, button
    type: str  # text, hidden, date, checkbox, radio, submit, select-one, select-multiple, ...
    name: str
    value: str = ""
    checked: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # select: (value, selected)


@dataclass(repr=False)
class Form:
    page: str  # where it was found
    action: str  # path it posts to
    controls: list[Control] = field(default_factory=list)
    htmx: bool = False

    def __repr__(self) -> str:
        return f"<form {self.kind} posting to {self.action}, found on {self.page}>"

    @property
    def names(self) -> list[str]:
        """Every control name, in order, once each."""
        return list(dict.fromkeys(c.name for c in self.controls if c.name))

    @property
    def url_name(self) -> str:
        match = resolve(self.action)
        return f"{match.namespace}:{match.url_name}" if match.namespace else str(match.url_name)

    @property
    def kind(self) -> str:
        """What the form does: the view, and the step it asks for (if the view has several)."""
        fixed = sorted(
            f"{c.name}={c.value}"
            for c in self.controls
            if c.name in DISPATCH and c.type in ("hidden", "submit")
        )
        return self.url_name + (f"[{','.join(fixed)}]" if fixed else "")

    def browser_data(self) -> dict[str, list[str]]:
        """What a browser sends when the form is submitted as the page shows it."""
        data: dict[str, list[str]] = {}
        button_sent = False
        for c in self.controls:
            if not c.name:
                continue
            if c.tag == "button" or c.type in ("submit", "image"):
                if not button_sent:  # the first submit button is the one clicked
                    data.setdefault(c.name, []).append(c.value)
                    button_sent = True
                continue
            if c.type in ("checkbox", "radio"):
                if c.checked:
                    data.setdefault(c.name, []).append(c.value or "on")
                continue
            if c.tag == "select":
                chosen = [v for v, selected in c.options if selected]
                if not chosen and c.type == "select-one" and c.options:
                    chosen = [c.options[0][0]]
                data.setdefault(c.name, []).extend(chosen)
                continue
            data.setdefault(c.name, []).append(c.value)
        return data

    def offered(self) -> dict[str, list[str]]:
        """Every value the page offers per control name (valid, as far as the page knows)."""
        out: dict[str, list[str]] = {}
        for c in self.controls:
            if not c.name:
                continue
            values = [v for v, _ in c.options] if c.tag == "select" else [c.value or "on"]
            out.setdefault(c.name, [])
            out[c.name] += [v for v in values if v not in out[c.name]]
        return out


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[tuple[dict[str, str | None], list[Control]]] = []
        self._form: list[Control] | None = None
        self._select: Control | None = None
        self._option: tuple[str | None, bool] | None = None
        self._option_text = ""
        self._textarea: Control | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        elif tag == "form":
            self._form = []
            self.forms.append((a, self._form))
        elif self._form is None:
            return
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            self._form.append(
                Control("input", kind, a.get("name") or "", a.get("value") or "", "checked" in a)
            )
        elif tag == "button":
            kind = (a.get("type") or "submit").lower()
            if kind == "submit":
                name, value = a.get("name") or "", a.get("value") or ""
                self._form.append(Control("button", "submit", name, value))
        elif tag == "select":
            kind = "select-multiple" if "multiple" in a else "select-one"
            self._select = Control("select", kind, a.get("name") or "")
            self._form.append(self._select)
        elif tag == "option" and self._select is not None:
            self._flush_option()
            self._option = (a.get("value"), "selected" in a)
            self._option_text = ""
        elif tag == "textarea":
            self._textarea = Control("textarea", "textarea", a.get("name") or "")
            self._form.append(self._textarea)

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option_text += data
        if self._textarea is not None:
            self._textarea.value += data

    def _flush_option(self) -> None:
        if self._option is not None and self._select is not None:
            value, selected = self._option
            self._select.options.append(
                (value if value is not None else self._option_text.strip(), selected)
            )
        self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "option":
            self._flush_option()
        elif tag == "select":
            self._flush_option()
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None


def _same_site(page: str, href: str) -> str | None:
    """The path (and query) of a link on this site worth following, else None."""
    parts = urlsplit(urljoin(page, href))
    if parts.scheme not in ("", "http") or parts.netloc not in ("", "testserver"):
        return None
    path = parts.path
    if not path.startswith("/") or path.startswith(SKIP_PREFIXES) or path.endswith(SKIP_SUFFIXES):
        return None
    try:
        resolve(path)
    except Resolver404:
        return None
    return path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Crawl:
    pages: list[str]
    forms: list[Form]
    statuses: dict[str, int]

    def by_kind(self) -> dict[str, list[Form]]:
        out: dict[str, list[Form]] = {}
        for form in self.forms:
            out.setdefault(form.kind, []).append(form)
        return out


def crawl(client, start: str = "/", max_pages: int = 150, max_depth: int = 4) -> Crawl:
    """Follow the signed-in client's links breadth-first; collect every POST form."""
    queue = deque([(start, 0)])
    seen: set[str] = {start}
    pages: list[str] = []
    forms: list[Form] = []
    statuses: dict[str, int] = {}
    while queue and len(pages) < max_pages:
        url, depth = queue.popleft()
        response = client.get(url)
        statuses[url] = response.status_code
        pages.append(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        parser = _Page()
        parser.feed(response.content.decode())
        for attrs, controls in parser.forms:
            if (attrs.get("method") or "get").lower() != "post":
                continue
            action = _same_site(url, attrs.get("action") or url)
            if action is None:  # logout, or another site
                continue
            forms.append(Form(url, action, controls, htmx="hx-post" in attrs))
        if depth >= max_depth:
            continue
        for href in parser.links:
            target = _same_site(url, href)
            if target is not None and target not in seen:
                seen.add(target)
                queue.append((target, depth + 1))
    return Crawl(pages, forms, statuses)
