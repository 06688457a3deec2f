"""Synthetic scrapes for the tests: several sites, each page wrapped in its site's chrome.

Made up here rather than taken from the bench data so that a test can say exactly what
each site's chrome is and what is article text."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

_VOCAB = (
    "harvest wheat exporters council ministry analysts reported quarterly shipments port "
    "northern province rainfall storage prices contract buyers delegation farmers cooperative "
    "inspection agency revenue forecast budget railway terminal capacity tender negotiations "
    "regional market supply demand officials committee report increase decline estimate season"
).split()

SITES = {
    "daily-herald": {
        "menu": ["Home", "World News", "Business Desk", "Contact the Newsroom", "Subscribe Today"],
        "footer": ["Community Noticeboard", "Privacy Policy", "Terms of Use", "© 2024 Daily Herald Media Group"],
    },
    "harbour-times": {
        "menu": ["Front Page", "Local Politics", "Shipping Schedules", "Letters to the Editor"],
        "footer": ["Community Noticeboard", "Advertise With Us", "Accessibility Statement", "Harbour Times Archive"],
    },
    "valley-gazette": {
        "menu": ["Valley Gazette", "Farm Reports", "Weather Outlook", "Obituaries", "E-Edition Login"],
        "footer": ["Careers at the Gazette", "Reader Services", "Site Map"],
    },
}


_FUNCTION = "the of and to in that for with on was by from at which their".split()


def _sentence(rng: random.Random, n: int) -> str:
    """Made-up prose: content words with function words between them, as running text
    has (the furniture classifier reads text without them as a menu)."""
    words = [rng.choice(_FUNCTION) if i % 2 else rng.choice(_VOCAB) for i in range(n)]
    return " ".join(words).capitalize()


def page(site: str, n: int, rng: random.Random) -> str:
    """One page of ``site``: its menu, a headline, hard-wrapped article text whose line
    breaks leave prose fragments on lines of their own ("said.", "the"), a page number,
    and its footer."""
    chrome = SITES[site]
    paras = []
    for _ in range(4):
        body = ". ".join(_sentence(rng, rng.randint(9, 16)) for _ in range(4))
        paras.append(textwrap.fill(body + ", the minister", 64) + "\nsaid.")
    paras.append(textwrap.fill(". ".join(_sentence(rng, 12) for _ in range(3)) + " and", 64) + "\nthe")
    lines = [*chrome["menu"], "", _sentence(rng, 7), "", "\n\n".join(paras), "", str(1 + n % 2), "",
             *chrome["footer"]]
    return "\n".join(lines) + "\n"


def multi_site_scrape(root: Path, per_site: int = 10, seed: int = 7) -> Path:
    """``root/<site>/page-NN.txt`` for every site of :data:`SITES`."""
    rng = random.Random(seed)
    for site in SITES:
        (root / site).mkdir(parents=True, exist_ok=True)
        for n in range(per_site):
            (root / site / f"page-{n:02d}.txt").write_text(page(site, n, rng), encoding="utf-8")
    return root
