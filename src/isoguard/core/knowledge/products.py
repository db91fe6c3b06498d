"""Isotretinoin products and their dosing families, from products.toml."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from isoguard.core.knowledge.loading import KnowledgeError, Status, entries, read_toml
from isoguard.core.vocabulary import Jurisdiction, Product


class Excipient(StrEnum):
    """Inactive ingredients that matter for allergies."""

    SOYBEAN_OIL = "soybean_oil"
    SOY_LECITHIN = "soy_lecithin"
    PARABENS = "parabens"
    TARTRAZINE = "tartrazine"


@dataclass(frozen=True)
class DosingFamily:
    slug: str
    usual_min_mg_per_kg_day: float
    usual_max_mg_per_kg_day: float
    label_max_mg_per_kg_day: float
    doses_per_day: int
    status: Status
    source: str


@dataclass(frozen=True)
class Strength:
    mg: int
    status: Status
    source: str


@dataclass(frozen=True)
class ExcipientEntry:
    slug: Excipient
    status: Status
    source: str
    strengths: tuple[int, ...] = ()
    """The strengths that contain it; empty means every strength."""

    def in_strength(self, mg: int) -> bool:
        return not self.strengths or mg in self.strengths


@dataclass(frozen=True)
class ProductInfo:
    slug: Product
    name: str
    holder: str
    dosing_family: str
    with_food: bool
    food_note: str
    markets: tuple[Jurisdiction, ...]
    substitutable: bool
    status: Status
    source: str
    strengths: tuple[Strength, ...]
    excipients: tuple[ExcipientEntry, ...]
    note: str = ""

    def strength_mgs(self) -> tuple[int, ...]:
        return tuple(s.mg for s in self.strengths)


@dataclass(frozen=True)
class Catalogue:
    families: tuple[DosingFamily, ...]
    products: tuple[ProductInfo, ...]

    def product(self, slug: Product | str) -> ProductInfo:
        """Return one product; a KeyError lists the product slugs there are."""
        for product in self.products:
            if product.slug == slug:
                return product
        raise KeyError(
            f"unknown product {slug!r}; known: {', '.join(p.slug for p in self.products)}"
        )

    def family(self, slug: str) -> DosingFamily:
        return next(f for f in self.families if f.slug == slug)


@cache
def load_catalogue() -> Catalogue:
    """Load and validate products.toml (once per process)."""
    where = "products.toml"
    data = read_toml(where)
    unknown = set(data) - {"dosing_family", "product"}
    if unknown:
        raise KnowledgeError(f"{where}: unknown table {sorted(unknown)[0]!r}")
    catalogue = Catalogue(
        families=entries(data, "dosing_family", DosingFamily, where=where),
        products=entries(data, "product", ProductInfo, where=where),
    )
    _check(catalogue, where)
    return catalogue


def _check(catalogue: Catalogue, where: str) -> None:
    slugs = [p.slug for p in catalogue.products]
    if sorted(slugs) != sorted(Product):
        missing = sorted(set(Product) - set(slugs))
        raise KnowledgeError(
            f"{where}: products must be exactly the vocabulary's; missing {missing}"
        )
    families = {f.slug for f in catalogue.families}
    for product in catalogue.products:
        if product.dosing_family not in families:
            raise KnowledgeError(
                f"{where}: {product.slug}: unknown dosing_family {product.dosing_family!r}"
            )
        mgs = product.strength_mgs()
        if len(set(mgs)) != len(mgs) or not mgs or any(mg <= 0 for mg in mgs):
            raise KnowledgeError(
                f"{where}: {product.slug}: strengths must be distinct and positive"
            )
        for excipient in product.excipients:
            stray = set(excipient.strengths) - set(mgs)
            if stray:
                raise KnowledgeError(
                    f"{where}: {product.slug}: {excipient.slug} names strengths it does not have: "
                    f"{sorted(stray)}"
                )
