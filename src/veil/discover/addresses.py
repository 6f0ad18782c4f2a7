"""Street addresses, PO boxes, unit parts and postal codes in free text and columns.

Addresses are recognised from structure, country family by country family:

* the house number before the street and an English street type after it ("350 Fifth Ave",
  "Flat 3, 12 High Street"): the US, the UK, Ireland, Canada, Australia;
* the number before a Romance street word ("12 rue de Rivoli") or after the named street
  ("Via Roma 10", "Calle Mayor, 5", "ul. Marszałkowska 12/4", "Strada Lipscani nr. 5");
* the number after a street type glued to the name ("Hauptstraße 5a", "Drottninggatan 53",
  "Kauppakatu 14", "Nørrebrogade 12") or written as its own word ("Váci utca 7", "Brīvības
  iela 55", "Berliner Straße 5"): German, Dutch, Nordic, Baltic and Central European forms;
* military ("PSC 1234, Box 5678, APO AE 09012"), post-office boxes in several languages,
  units ("Apt. 12", "Wohnung 4", "2º B", "3. OG"), street corners ("the corner of Main
  Street and Oak Avenue", the streets only), and further lines ("10115 Berlin",
  "London SW1A 1AA", "Sydney NSW 2000"), which stay inside the address span.

A postcode alone is a ZIP_CODE only when the text says so: a postal word ("PLZ", "code
postal", "kod pocztowy"...) or a city from a gazetteer next to it ("75008 Paris", "1010
Wien"), the code valid for that city's country. A number right next to a street word is a
house number, never a postcode.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, fields, replace
from functools import cache, cached_property

import polars as pl

from veil.discover.entities import Entity, Span
from veil.discover.patterns import (
    PatternRecognizer,
    Recognizer,
    _around,
    _as_text,
    _clip,
    _compiled,
    _has_words,
    _scatter,
    _zeros,
)

__all__ = ["ADDRESS_RECOGNIZERS", "AddressRecognizer", "postcode_countries"]

# ------------------------------------------------------------------------------ building blocks


def _cased(words: str) -> str:
    """``words`` ("apt|suite") as lower-case, capitalised or upper-case alternatives: a
    small regex where ``(?i:...)`` would fold the whole of Unicode and slow the column pass."""
    variants = []
    for word in words.split("|"):
        variants += [f"[{word[0].upper()}{word[0]}]{word[1:]}", word.upper()]
    return "(?:" + "|".join(dict.fromkeys(variants)) + ")"


_UPPER = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĖĘĚĢĪĮĶĹĻĽŁŃŅŇŐŒŔŘŚŞŠŢŤŪŮŰŲŹŻŽȘȚ"  # no \p{Lu} in re
_LOWER = "a-zß-öø-ÿāăąćčďđēėęěģīįķĺļľłńņňőœŕřśşšţťūůűųźżžșț"
_CAP = rf"[{_UPPER}][\w'’-]*\.?"
_NAME = rf"(?:[dlDL]['’])?[{_UPPER}][\w'’-]*\.?"  # a capitalised name word ("l'Église")

# English street types after the name ("Street"); abbreviations may take a full stop.
_EN_WORDS = (r"Street|Avenue|Road|Boulevard|Lane|Drive|Court|Way|Place|Terrace|Circle"
             r"|Highway|Parkway|Square|Crescent|Alley|Plaza|Trail|Expressway|Freeway"
             r"|Turnpike|Close|Row|Parade|Esplanade|Gardens|Grove|Mews|Quay|Wharf")
_EN_ABBREVIATIONS = r"St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Cir|Hwy|Pkwy|Sq|Cres|Pde"
_EN_SUFFIX = rf"(?:{_EN_WORDS})\b|(?:{_EN_ABBREVIATIONS})\b\.?"
# Further street types of the USPS (Publication 28) and Australian (AS 4590) lists: also
# ordinary nouns ("3 Day Pass", "2 Green Hills"), so they count with address words near or
# a postcode line after.
_EN_MORE_WORDS = (
    r"(?:Approach|Arcade|Bend|Branch|Bridge|Broadway|Brook|Burg|Bypass|Camp|Canyon|Cape"
    r"|Causeway|Center|Centre|Chase|Circles|Circuit|Circus|Cliff|Club|Common|Corner|Course"
    r"|Courts|Cove|Creek|Crest|Cross|Crossing|Crossroad|Curve|Dale|Dam|Dell|Divide|Drives"
    r"|Estate|Extension|Fall|Ferry|Field|Flat|Ford|Forest|Forge|Fork|Fort|Garden|Gateway"
    r"|Glade|Glen|Grange|Green|Groves|Harbor|Harbour|Haven|Heights|Hill|Hollow|Inlet|Island"
    r"|Isle|Junction|Key|Knoll|Lake|Land|Landing|Light|Link|Loaf|Lock|Lodge|Loop|Lookout"
    r"|Mall|Manor|Meadow|Mill|Mission|Motorway|Mount|Mountain|Neck|Orchard|Oval|Overpass"
    r"|Park|Parkways|Pass|Passage|Path|Pathway|Pike|Pine|Plain|Point|Port|Prairie"
    r"|Promenade|Radial|Ramp|Ranch|Rapid|Reserve|Rest|Retreat|Ridge|Rise|River|Roads|Route"
    r"|Rue|Run|Shoal|Shore|Skyway|Spring|Spur|Squares|Station|Strand|Stravenue|Stream"
    r"|Streets|Summit|Throughway|Trace|Track|Trafficway|Trailer|Tunnel|Underpass|Union"
    r"|Vale|Valley|Viaduct|View|Village|Ville|Vista|Walk|Walkway|Wall|Ways|Well|Wynd"
    r"|Access|Alleyway|Amble|Anchorage|Basin|Beach|Brace|Brae|Brow|Byway|Circlet|Colonnade"
    r"|Concourse|Copse|Corso|Courtyard|Crossway|Cutting|Deviation|Driveway|Elbow|Entrance"
    r"|Fairway|Footway|Foreshore|Frontage|Gap|Gate|Gully|Highroad|Interchange|Laneway|Line"
    r"|Meander|Mew|Nook|Outlook|Parklands|Plateau|Pocket|Quadrant|Quays|Ramble|Range|Reach"
    r"|Ride|Ridgeway|Riverway|Riviera|Roadside|Roadway|Ronde|Rotary|Siding|Slope|Steps"
    r"|Strip|Subway|Tarn|Thoroughfare|Tollway|Tor|Towers|Triangle|Villas|Wade)s?\b")
# Street types glued to the end of the name: DE/AT/CH, NL/BE, SV, DA, NO, FI.
_GLUED = (r"straße|strasse|str\.|gasse|weg|allee|platz|damm|ufer|chaussee|steig|pfad"
          r"|markt|graben|zeile|gürtel|kai|straat|laan|plein|gracht|kade|singel|dijk|steeg"
          r"|dreef|kaai|gatan|vägen|väg|gränd|torget|stigen|allén|gade|vej|vænge|stræde|torv"
          r"|plads|gata|gaten|veien|vegen|vei|veg|plass|katu|tie|kuja|polku|kaari|tori"
          r"|väylä|raitti|bulevardi|hof|(?:[bcdfghklmnrsvwxzß]|-)ring")  # not hea-ring, sp-ring
# Street types written as their own, lower-case word after the name: HU, LV, LT, ET, SL, HR,
# CS/SK, PL, NO, RO ("Váci utca 7", "Brīvības iela 55", "Gedimino pr. 9", "Savska cesta 32").
_AFTER = (r"utca|u\.|út|útja|tér|körút|krt\.|sétány|iela|gatve|bulvāris|laukums|gatvė|g\."
          r"|prospektas|pr\.|alėja|aikštė|tänav|maantee|mnt\.?|puiestee|väljak|cesta|ulica"
          r"|ul\.|trg|náměstí|nám\.|třída|nábřeží|námestie|gate|vei|veien|gata|aleja|bulevar")
# German street types as a separate capitalised word ("Berliner Straße 5").
_AFTER_CAP = (r"Straße|Strasse|Str\.|Allee|Weg|Gasse|Damm|Ufer|Chaussee|Gürtel|Zeile|Kai"
              r"|Allé|Vej|Gade")
# Street words before the name: FR/BE, ES, IT, PT, RO, PL, CS, GA ("Via Roma 10").
_BEFORE = (r"(?:(?i:rue|avenida|avda\.|av\.|viale|vicolo|calle|c/|carrer|rua|travessa|praça"
           r"|largo|piazza|piazzale|corso|chaussée|chemin|quai|allée|impasse|paseo|camino"
           r"|ronda|travesía|alameda|estrada|strada|str\.|bulevardul|bd\.|calea|șoseaua"
           r"|aleea|piața|splaiul|intrarea|ulica|aleja|aleje|plac|osiedle|náměstí|nám\.|třída"
           r"|sráid|bóthar|ascaill|glorieta|callejón|cañada|acceso|pasaje|carretera|contrada"
           r"|canale|borgo|salita|lungomare|località|drumul|soseaua|piata|avenue|boulevard)"
           r"|ul\.|pl\.|os\.|C\.|Via|Plaza)")
_PARTICLE = (r"(?:de|del|della|delle|dei|degli|di|da|do|dos|das|des|du|la|le|les|el|los|las"
             r"|y|e|et|van|von|der|den|het|sur|sous|lui)")
# Romance street words after the house number ("12 rue de Rivoli", "48, Avenida Paulista").
_ROMANCE_AFTER_NUMBER = (r"(?i:rue|avenue|av\.|avda\.|avenida|via|viale|vicolo|calle|carrer"
                         r"|rua|travessa|piazza|plaza|praça|largo|corso|chemin|boulevard|bd\.?"
                         r"|allée|quai|impasse|route|paseo|camino)")

# A house number: "12", "5a", "12/4", "45/3/12", "12-14".
_HOUSE = r"\d{1,5}[A-Za-z]?(?:[ \t]?[/-][ \t]?\d{1,4}[A-Za-z]?){0,2}\b"
_NUMBER_WORD = r"(?:(?i:nr|no|n[º°o]|núm|num|č|br)\.?[ \t]*)?"  # "nr. 5", "nº 5", "č. 7"
_UNIT_WORD = (_cased("apt|apartment|suite|ste|unit|flat|fl|floor|rm|room|wohnung|whg|stiege"
                     "|stg|top|tür|etage|appartement|appt|app|bât|bâtiment|escalier|esc|étage"
                     "|piso|planta|puerta|pta|portal|int|interno|scala|piano|andar|bus|boîte"
                     "|bte|lgh|lok|byt|stan|lejl|bolig")
              + r"\.?[ \t]?#?[ \t]?(?:[A-Za-z]?\d{1,5}[A-Za-z]?|[A-Z])\b")
# Floors and doors written as ordinals: "2º B", "3º izq.", "3. OG", "2. Stock", "1-hoog".
_ORDINAL_UNIT = (r"\d{1,2}(?:[ºª°]|\.?[ \t]?(?i:og|stock|etage|obergeschoss)|-(?i:hoog)"
                 r"|\.[ \t]?(?:th|tv|mf|sal)\b)"
                 r"(?:[ \t]?(?:(?i:izq|izda|dcha|der|dto|esq|dir)\b\.?|[A-Z]\b))?")
# A staircase and flat ("B 8" in Finland) or a dwelling number ("H0601" in Norway).
_LETTER_UNIT = r"(?:[A-Z][ \t]\d{1,3}|H\d{4})\b"
_UNIT = (r"(?:(?:[ \t]*\r?[,\n/][ \t]*|[ \t]+)"
         rf"(?:{_UNIT_WORD}|{_ORDINAL_UNIT}|#[ \t]?\d{{1,6}}\b|{_LETTER_UNIT})){{0,2}}")

# Postcode shapes inside an address block (the street already vouches for them).
_UK = (r"(?:[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
       r"[ \t]?[0-9][ABD-HJLNP-UW-Z]{2}")
_CA = r"[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z][ \t-]?[0-9][ABCEGHJ-NPRSTV-Z][0-9]"
_IE = r"(?:[ACDEFHKNPRTVWXY][0-9]{2}|D6W)[ \t]?[0-9ACDEFHKNPRTVWXY]{4}"
_NL = r"[1-9][0-9]{3}[ \t]?(?:[A-RT-Z][A-Z]|S[BCE-RT-Z])"  # never SA, SD or SS
_PREFIX = r"(?:[A-Z]{1,2}-[ \t]?)?"  # "A-1010", "CH-8001", "LV-1050"
_DIGITS = r"(?:\d{5}-\d{4}|\d{4}-\d{3}|\d{2}-\d{3}|\d{3}[ \t]\d{2}|\d{4,6})"
_POSTCODE = rf"(?:{_UK}|{_CA}|{_IE}|{_NL}|{_PREFIX}{_DIGITS})\b"
_PLACE_WORD = rf"[{_UPPER}][^\W\d]*(?:['’-][^\W\d]+)*"  # no digits, no closing full stop
# Place names may hold a lower-case particle: "Jablonné nad Orlicí", "Frankfurt am Main".
_PLACE = (rf"{_PLACE_WORD}\b(?:[ \t]+(?:(?:am|an|der|im|nad|pod|v|na|ob|pri|de|del|di|la|le"
          rf"|sur|en|aan|den|upon|sous|bei)[ \t]+)?{_PLACE_WORD}\b){{0,3}}")
# Further lines or comma-separated parts: "10115 Berlin", "London SW1A 1AA", "Springfield",
# "IL 62704", "NSW 2000", "ON K1A 0B1" (units come right after the street: ``_UNIT``).
_SEGMENT = (rf"(?:{_POSTCODE}(?:[ \t]+{_PLACE})?|[A-Z]{{2,3}}[ \t]+{_POSTCODE}"
            rf"|{_PLACE}(?:[ \t]+(?:[A-Z]{{2,3}}[ \t]+)?{_POSTCODE})?)")
_BLOCK = rf"(?:[ \t]*\r?[,\n][ \t]*,?[ \t]*{_SEGMENT}){{0,4}}"

# -------------------------------------------------------------------------------- the patterns

_LEAD_UNIT = (r"(?:(?:Flat|Apartment|Apt|Unit|Suite|Wohnung|Appartement)\.?[ \t]?#?[ \t]?"
              r"\d{1,5}[A-Za-z]?[ \t]*\r?[,\n][ \t]*)")
_EN_STREET = (rf"(?:(?:[NSEW]|NE|NW|SE|SW)\.?[ \t]+)?"
              rf"(?:(?:{_CAP}|\d{{1,3}}(?:st|nd|rd|th))[ \t]+){{1,4}}(?i:{_EN_SUFFIX})")
_US_STREET = rf"\b\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?[ \t]+{_EN_STREET}"
_US_ADDRESS = rf"{_LEAD_UNIT}?{_US_STREET}(?:[ \t]+(?:NE|NW|SE|SW|[NSEW])\b\.?)?{_UNIT}{_BLOCK}"
_US_MORE_STREET = rf"\b\d{{1,6}}[A-Za-z]?[ \t]+(?:{_CAP}[ \t]+){{1,3}}{_EN_MORE_WORDS}"
_US_MORE_ADDRESS = rf"{_LEAD_UNIT}?{_US_MORE_STREET}{_UNIT}{_BLOCK}"
# No street suffix, but a "City, ST 12345" line settles it.
_CITY_STATE_ADDRESS = (
    rf"\b\d{{1,6}}[ \t]+{_CAP}(?:[ \t]+{_CAP}){{0,3}}(?:[ \t]+\d{{1,5}}[A-Za-z]?)?{_UNIT}"
    rf"[ \t]*[,\n][ \t]*(?:{_CAP}[ \t]+){{0,2}}{_CAP},?[ \t]+[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?\b"
)
# Lower-case text ("ik woon op noahhof 23, 1-hoog", "abito in vicolo fredo, 7"): a glued
# street type or a street word first, counted only next to address words.
_LOWER_EU_ADDRESS = (
    rf"\b(?:[{_LOWER}][\w'’-]+?(?i:{_GLUED})|{_BEFORE}(?:[ \t]+[{_LOWER}][\w'’-]+){{1,3}},?)"
    rf"[ \t]+{_NUMBER_WORD}{_HOUSE}{_UNIT}"
    rf"(?:[ \t]*\r?[,\n][ \t]*(?:[1-9]\d{{3}}[ \t]?[a-z]{{2}}|{_PREFIX}{_DIGITS})[ \t]+"
    rf"[{_LOWER}][\w'’-]+(?:[ \t]+[{_LOWER}][\w'’-]+)?\b)?")
_LOWER_ADDRESS = (
    rf"\b\d{{1,6}}[ \t]+(?:[a-z][\w'’-]*[ \t]+){{1,3}}(?:{_EN_SUFFIX.lower()}){_UNIT}"
)
# The street named first, its number after: glued suffix, separate lower-case word, or a
# separate German street word.
_EU_STREET = (rf"(?:(?:{_CAP}[ \t]+){{0,2}}[{_UPPER}][\w'’-]+?(?i:{_GLUED})"
              rf"|(?:{_CAP}[ \t]+){{0,2}}{_CAP}[ \t]+(?:[{_LOWER}][\w'’-]{{2,}}[ \t]+)?"
              rf"(?:{_AFTER}|{_AFTER_CAP}))")
_EU_NUMBERED = rf"\b{_EU_STREET}[ \t]+{_NUMBER_WORD}{_HOUSE}"
_EU_ADDRESS = rf"{_LEAD_UNIT}?{_EU_NUMBERED}{_UNIT}{_BLOCK}"
_ROMANCE_STREET = (
    rf"(?:\b\d{{1,5}}[A-Za-z]?,?[ \t]+{_ROMANCE_AFTER_NUMBER}"
    rf"(?:[ \t]+(?:(?i:{_PARTICLE})[ \t]+)?{_NAME}){{1,4}}"
    rf"|\b{_BEFORE}(?:[ \t]+(?:(?i:{_PARTICLE})[ \t]+){{0,2}}{_NAME}){{1,4}},?[ \t]+"
    rf"{_NUMBER_WORD}{_HOUSE})"
)
_ROMANCE_ADDRESS = rf"{_LEAD_UNIT}?{_ROMANCE_STREET}{_UNIT}{_BLOCK}"
# A street name followed by its number, behind a building number ("46 velký průhon 426",
# "87 Jakobi 69"): any script, any case, so it only counts next to address words.
_NAME_NUMBER_ADDRESS = (r"\b\d{1,4}[ \t]+[^\W\d_][\w'’-]*(?:[ \t]+[^\W\d_][\w'’-]*){0,3}"
                        rf"[ \t]+\d{{1,5}}[A-Za-z]?\b(?:,?[ \t]+{_UNIT_WORD})?")
_UNIT_ALONE = (r"\b(?:Apt|Apartment|Suite|Ste|Unit|Flat|Wohnung|Whg|Appartement|Appt|APT"
               r"|SUITE|FLAT|apt|apartment|suite)\.?[ \t]?#?[ \t]?\d{1,5}[A-Za-z]?\b")
_UNIT_ADDRESS = rf"{_UNIT_ALONE}{_BLOCK}"
_BOX_WORDS = (r"(?i:p\.? ?o\.? box|post office box|gpo box|postfach|postbus|postboks"
              r"|boîte postale|apartado(?: de correos)?|apdo\.|casella postale|caixa postal"
              r"|skrytka pocztowa|postilokero)|B\.P\.")
_BOX = rf"\b(?:{_BOX_WORDS})[ \t]?\d{{1,6}}(?:[ \t]\d{{2,3}}){{0,2}}\b"
# US military mail: "PSC 1234, Box 5678, APO AE 09012", "Unit 2050 Box 4190, APO AP 96522",
# "USS Nimitz, FPO AP 96620".
_MILITARY = (rf"\b(?:(?:(?:PSC|CMR|Unit)[ \t]+\d{{1,5}},?[ \t]+)?Box[ \t]+\d{{1,5}}"
             rf"|USS[ \t]+{_CAP}(?:[ \t]+{_CAP}){{0,2}}),?[ \t]+(?:APO|FPO|DPO)[ \t]+A[AEP]"
             r"[ \t]+\d{5}(?:-\d{4})?\b")
_PO_OR_MILITARY = rf"{_MILITARY}|{_BOX}"
# "the corner of Main Street and Oak Avenue": the two streets, when a corner word is near.
_CORNER_STREET = (rf"(?:(?:(?:{_CAP}|\d{{1,3}}(?:st|nd|rd|th))[ \t]+){{1,3}}(?i:{_EN_SUFFIX})"
                  rf"|{_EU_STREET}(?:[ \t]+{_HOUSE})?)")
_CORNER = (rf"\b{_CORNER_STREET}[ \t]+(?:and|&|y|et|und|e|i|og|och|ja)[ \t]+"
           rf"{_CORNER_STREET}")

# A street named without a street word ("Mezilesní", "Nad Lávkou", "Plečnikov podhod",
# "Cañada de Gil Avilés"): capitalised words, particles between them, and at most one
# lower-case word at the end, so a sentence ("She moved to") never becomes a street.
_NAME_WORDS = rf"{_NAME}(?:[ \t]+(?:(?i:{_PARTICLE})[ \t]+)?{_NAME}){{0,3}}"
_LOWER_WORD = rf"[ \t]+[{_LOWER}][\w'’-]{{2,}}\.?"
_NAMED_STREET = rf"\b{_NAME_WORDS}(?:{_LOWER_WORD})?,?[ \t]+{_NUMBER_WORD}{_HOUSE}{_UNIT}"
# Before a postcode line a second lower-case word is safe ("Pri malem kamnu 4, 9369 Postojna").
_NAMED_STREET_LONG = (rf"\b{_NAME_WORDS}(?:{_LOWER_WORD}){{0,2}},?[ \t]+{_NUMBER_WORD}{_HOUSE}"
                      rf"{_UNIT}")
# The postcode line that ends an address ("..., 627 14 Jablonné", "...\n0959 Brekke").
_POSTAL_LINE = rf"[,\n][ \t]*({_POSTCODE})[ \t]+({_PLACE})"
_POSTAL_LINE_RE = re.compile(_POSTAL_LINE)
_NAMED_POSTAL_ADDRESS = rf"{_NAMED_STREET_LONG}[ \t]*\r?{_POSTAL_LINE}"
# Any line that ends an address, for the bonus: "10115 Berlin", "Ethan Ville, E36 2YX6",
# "Springfield, IL 62704".
_ENDING_LINE_RE = re.compile(
    rf"[,\n][ \t]*(?:{_POSTCODE}[ \t]+{_PLACE}|(?:{_PLACE},?[ \t]+)?(?:[A-Z]{{2,3}}[ \t]+)?"
    rf"{_POSTCODE})")
# Quantities after a number: "Berlin 2 years ago" names no street.
_QUANTITY_AFTER = re.compile(
    r"[ \t]*(?:%|(?i:years?|yrs?|months?|weeks?|days?|hours?|minutes?|times|percent|x\b"
    r"|jahren?|ans?|años?|anni|lat|kg|km|m\b|cm|mm|eur|usd|chf|gbp|kr|zł|€|\$|£))")

_ADDRESS_CONTEXT = ("address", "addresses", "lives", "live", "living", "located", "reside",
                    "resides", "residence", "ship", "shipping", "mail", "mailing", "deliver",
                    "moved", "return to", "billing", "street", "home", "adresse", "anschrift",
                    "dirección", "direccion", "indirizzo", "endereço", "adres", "adresa",
                    "osoite", "cím", "wohnt", "habite", "vive", "abita", "woont", "mieszka",
                    "bor", "office", "parcel", "package", "sender", "delivery", "woon",
                    "wonen", "leveren", "abito", "przeprowadziliśmy", "umgezogen",
                    "déménagé", "mieszkam", "bydlí", "přestěhovali", "preselili")
_CORNER_WORDS = ("corner", "intersection", "junction", "crossroads", "esquina", "ecke",
                 "angle", "cruce", "incrocio", "kruising", "hoek", "skrzyżowanie")
# "the corner of X and Y" in any language's street names: the words between the corner
# word and the conjunction, and those after it up to a clause break.
_CORNER_WORD = r"[^\W\d_][\w'’.-]*"
_CORNER_NAMED = (
    r"(?i:corner|intersection|junction|crossroads|esquina|ecke|angle|coin|cruce|incrocio"
    r"|angolo|kruising|hoek|skrzyżowanie|křižovatka|križišče|raskrižje)[ \t]+"
    r"(?:(?i:of|de|del|di|dell'|von|van|des|du|la|the|between|entre|tra)[ \t]+){0,2}"
    rf"({_CORNER_WORD}(?:[ \t]+{_CORNER_WORD}){{0,5}}?)[ \t]+"
    r"(?:and|&|y|et|und|e|i|og|och|ja|en|a|és|ir|un)[ \t]+"
    rf"({_CORNER_WORD}(?:[ \t]+{_CORNER_WORD}){{0,4}})")
# Where the second street stops: a word that starts the rest of the sentence.
_CLAUSE_WORDS = frozenset((
    "at", "in", "on", "by", "near", "from", "to", "for", "when", "where", "while", "after",
    "before", "during", "yesterday", "today", "tonight", "this", "last", "next", "around",
    "about", "was", "is", "were", "are", "and", "or", "but", "with", "which", "that", "who",
    "um", "am", "im", "à", "le", "pendant", "hier", "ayer", "ieri", "om", "op", "gisteren"))



@dataclass(frozen=True)
class AddressRecognizer(PatternRecognizer):
    """An address regex in two parts. ``pattern`` is the core every address contains (the
    street and its number); ``whole`` adds what may surround it (a unit before it, further
    lines after it) and decides the span. Columns are read with the core first and with
    ``whole`` only in the cells the core matched, and the column scanner's candidate test reads
    the core alone: over free text the whole regex, with its optional further lines, runs some
    thirty times slower than the core."""

    whole: str = ""
    postal_bonus: float = 0.15  # added where the span ends in a postcode line

    @cached_property
    def _whole(self) -> PatternRecognizer:
        own = {f.name: getattr(self, f.name) for f in fields(PatternRecognizer)}
        return PatternRecognizer(**{**own, "pattern": self.whole})

    def spans(self, text: str) -> list[Span]:
        return [replace(s, score=_clip(s.score + self.postal_bonus))
                if self.postal_bonus and _ENDING_LINE_RE.search(text, s.start, s.end) else s
                for s in self._whole.spans(text)]

    def _score_cells(self, values: pl.Series, *, whole: bool) -> pl.Series:
        text = _as_text(values)
        if text is None or len(text) == 0 or self.needs_context:
            return _zeros(values)
        core = text.str.contains(self.pattern)
        if not core.any():
            return _zeros(values)
        rows = core.arg_true()
        scores = self._whole._score_cells(text.gather(rows), whole=whole)
        return _scatter(values, rows, scores)


@dataclass(frozen=True)
class NamedStreetRecognizer(PatternRecognizer):
    """A street named without a street word, then its number ("Vitezovićeva 3"): counted only
    next to address words, and not where a quantity follows ("Berlin 2 years ago") nor a
    capitalised word (the number starts the next thing: "Ann Lee, 2 Kevin Park")."""

    def spans(self, text: str) -> list[Span]:
        return [s for s in super().spans(text) if not (
            _QUANTITY_AFTER.match(text, s.end) or _TITLE_PLACE_AFTER.match(text, s.end))]


@dataclass(frozen=True)
class CornerRecognizer(PatternRecognizer):
    """The two streets after "the corner of" ("Vinogradska and Goljačke", "avenue Hoarau and
    rue de Chauvin"): the second ends where the rest of the sentence starts."""

    def spans(self, text: str) -> list[Span]:
        found = []
        for match in _compiled(self.pattern).finditer(text):
            words = match.group(2).split()
            keep = next((i for i, w in enumerate(words) if w.lower() in _CLAUSE_WORDS),
                        len(words))
            if keep == 0:
                continue
            end = match.start(2) + len(" ".join(words[:keep]).rstrip("."))
            if match.group(2)[:end - match.start(2)] != text[match.start(2):end]:
                end = match.end(2)  # the words were not single-spaced: keep the match
            found.append(Span(match.start(1), end, self.entity, self.score, self.name))
        return found


def _no_year_number(value: str) -> bool:
    """A building number, not a year or a range ("byt 8 in 2018", "3 to 5")."""
    words = value.split()
    return not (_looks_like_year(words[-1].rstrip(","))
                or any(w.lower() in _CLAUSE_WORDS for w in words[1:-1]))


def _postal_line_score(value: str) -> float:
    """0.6 where the address's postcode has a telling shape ("627 14", "00-950", "H-4568") or
    precedes a known city of a country it fits; 0.45 for other bare digits ("Chapter 5, 1200
    Words" needs address words near); 0 where it fits no country."""
    lines = list(_POSTAL_LINE_RE.finditer(value))
    if not lines:
        return 0.0
    code, place = lines[-1].group(1), lines[-1].group(2)
    countries = postcode_countries(code)
    if not countries:
        return 0.0
    if _city_countries(place, from_end=False) & countries or not code.isdigit():
        return 0.6
    return 0.0 if _looks_like_year(code) else 0.45


# ------------------------------------------------------------------------------------ postcodes

# Postcode formats per country (ISO 3166 alpha-2), as written without the country prefix.
_COUNTRY_FORMATS: dict[str, str] = {
    "US": r"\d{5}(?:-\d{4})?", "CA": _CA, "GB": _UK, "IE": _IE,
    "AU": r"(?:0[289]\d{2}|[1-9]\d{3})", "DE": r"(?:0[1-9]|[1-9]\d)\d{3}",
    "AT": r"[1-9]\d{3}", "CH": r"[1-9]\d{3}", "LI": r"94[89]\d", "BE": r"[1-9]\d{3}",
    "NL": _NL, "LU": r"\d{4}", "FR": r"(?:0[1-9]|[1-8]\d|9[0-8])\d{3}", "MC": r"980\d{2}",
    "ES": r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}", "PT": r"[1-9]\d{3}-\d{3}", "IT": r"\d{5}",
    "PL": r"\d{2}-\d{3}", "CZ": r"[1-7]\d{2}[ \t]?\d{2}", "SK": r"[089]\d{2}[ \t]?\d{2}",
    "HU": r"[1-9]\d{3}", "SE": r"[1-9]\d{2}[ \t]?\d{2}", "DK": r"[1-9]\d{3}", "NO": r"\d{4}",
    "FI": r"\d{5}", "IS": r"[1-9]\d{2}", "EE": r"[1-9]\d{4}", "LV": r"\d{4}", "LT": r"\d{5}",
    "RO": r"\d{6}", "HR": r"[1-5]\d{4}", "SI": r"[1-9]\d{3}", "GR": r"[1-8]\d{2}[ \t]?\d{2}",
    "BG": r"[1-9]\d{3}", "CY": r"[1-9]\d{3}",
}
_FORMAT_REGEX = {c: re.compile(f) for c, f in _COUNTRY_FORMATS.items()}
# Country letters written before a postcode ("A-1010 Wien", "CH-8001", "LV-1050").
_PREFIX_COUNTRY = {"A": "AT", "D": "DE", "CH": "CH", "F": "FR", "B": "BE", "NL": "NL",
                   "L": "LU", "E": "ES", "I": "IT", "P": "PT", "PL": "PL", "CZ": "CZ",
                   "SK": "SK", "H": "HU", "S": "SE", "DK": "DK", "N": "NO", "FI": "FI",
                   "SF": "FI", "EE": "EE", "LV": "LV", "LT": "LT", "RO": "RO", "HR": "HR",
                   "SI": "SI", "GR": "GR", "FL": "LI", "IS": "IS", "BG": "BG"}


def postcode_countries(code: str) -> frozenset[str]:
    """The countries whose postcode format ``code`` fits ("SW1A 1AA" -> GB, "1010" -> AT,
    BE, CH, ...); a country prefix ("A-1010") narrows it to that country; all zeros fit none."""
    code = code.strip()
    prefix, dash, rest = code.partition("-")
    if dash and prefix in _PREFIX_COUNTRY and rest.strip():
        country = _PREFIX_COUNTRY[prefix]
        return frozenset({country} if _FORMAT_REGEX[country].fullmatch(rest.strip()) else ())
    if not any(ch.isalnum() and ch != "0" for ch in code):
        return frozenset()
    return frozenset(c for c, rx in _FORMAT_REGEX.items() if rx.fullmatch(code))


# Formats that are postcodes even without a postal word: validated letter-digit shapes.
_DISTINCT = frozenset({"GB", "CA", "IE", "NL"})

_POSTAL_WORDS = (
    "zip", "zipcode", "zip code", "postal", "postcode", "post code", "postal code", "plz",
    "postleitzahl", "code postal", "cp", "c.p.", "c.a.p.", "código postal", "codigo postal",
    "kod pocztowy", "postnummer", "postnr", "postinumero", "irányítószám", "psč", "eircode",
    "poštna številka", "poštanski broj", "cod poștal", "cod postal", "pasta indekss",
    "pašto kodas", "sihtnumber", "postcode:", "zip:", "ταχυδρομικός κώδικας", "tk",
)
# A postal word right before the code ("my zip is 940", "postcode: 00-950", "PLZ 10115"),
# and a number right after or before a street word: a house number.
_POSTAL_CUE = re.compile(
    r"(?i:\b(?:zip|zipcode|postcode|postal|post|plz|postleitzahl|code postal|c\.?p\.?"
    r"|c\.a\.p\.|código postal|codigo postal|kod pocztowy|postnummer|postnr|postinumero"
    r"|irányítószám|psč|eircode)(?:[ \t]+code)?[ \t]*(?:is|was|:|=|-|#|nr\.?|no\.?)?"
    r"[ \t]*(?:is[ \t]*)?)$|\bCAP[ \t]*:?[ \t]*$|\b(?i:cap)[ \t]*(?::|è|e')[ \t]*$")
# Phrases that make a code next to them a postcode: "outside our delivery zone", "covers the
# 2075 area" (the code right before "area").
_POSTAL_PHRASES = ("delivery zone", "delivery area", "service area", "postal area",
                   "postal district", "catchment area", "zone de livraison", "liefergebiet",
                   "zona di consegna", "zona de reparto")
# The code right before "area" or "zone" (but "415 area code" is a phone prefix).
_AREA_AFTER = re.compile(r"[ \t]+(?i:area|zone|district)\b([ \t]+(?i:codes?))?")
# A money amount: a currency next to the number, or decimals after it ("$722.29", "893 kr").
_AMOUNT_BEFORE = re.compile(r"(?:[$€£¥]|(?i:\b(?:eur|usd|chf|gbp|kr|zł|pln|sek|nok|dkk)))"
                            r"[ \t]?$")
_AMOUNT_AFTER = re.compile(r"[.,]\d|[ \t]?(?:[$€£]|(?i:(?:eur|usd|chf|gbp|kr|kč|zł|pln|sek|nok"
                           r"|dkk|huf|ron|ft|lei|euros?|dollars?)\b))")
# "lives in 2623 North Jonathanland", "l'agence de 37322 Perez": a place preposition, the code,
# a capitalised place name.
_PLACE_PREPOSITION = re.compile(r"(?i:\b(?:in|at|near|from|de|à|a|en|te|im|aus|nach|bei|w|v"
                                r"|i|u|na|di))[ \t]+$")
_TITLE_PLACE_AFTER = re.compile(rf"[ \t]+[{_UPPER}][{_LOWER}]")
_STREET_AFTER = re.compile(
    rf"[ \t]+(?:(?:[NSEW]|NE|NW|SE|SW)\.?[ \t]+)?(?:\S+[ \t]+){{0,3}}?"
    rf"(?:(?i:{_EN_SUFFIX})|{_ROMANCE_AFTER_NUMBER}\b)")
_STREET_BEFORE = re.compile(
    rf"(?:(?i:{_GLUED})|\b(?:{_AFTER}|{_AFTER_CAP}|(?i:{_EN_SUFFIX})))[ \t]*{_NUMBER_WORD}$")
_WORDS_AFTER = re.compile(r"[ \t]*,?[ \t]*((?:[\w'’-]+[ \t]?){1,3})")
_WORDS_BEFORE = re.compile(r"((?:[\w'’-]+[ \t]?){1,3}),?[ \t]*$")
_NEGATIVE = ("$", "usd", "eur", "€", "£", "dollars", "euro", "euros", "total", "order",
             "invoice", "account", "id", "#", "tel", "phone", "fax", "mobile", "ref")
_ZIP_ADDRESS_WORDS = ("address", "street", "st", "road", "rd", "avenue", "ave", "apt",
                      "suite")

# Cities of the Faker locales that ship a city list, by country.
_CITY_LOCALES = {"de_DE": "DE", "de_AT": "AT", "de_CH": "CH", "nl_NL": "NL", "nl_BE": "BE",
                 "pl_PL": "PL", "cs_CZ": "CZ", "sk_SK": "SK", "da_DK": "DK", "fi_FI": "FI",
                 "pt_PT": "PT", "ro_RO": "RO", "hr_HR": "HR", "sl_SI": "SI", "sv_SE": "SE",
                 "it_IT": "IT"}
# Larger cities of the countries whose Faker locale lists none (and a few it leaves out).
_MORE_CITIES = {
    "FR": "Paris Marseille Lyon Toulouse Nice Nantes Strasbourg Montpellier Bordeaux Lille "
          "Rennes Reims Toulon Grenoble Dijon Angers Nîmes Brest Metz Rouen Orléans Caen "
          "Nancy Avignon Versailles Saint-Étienne Le_Havre Clermont-Ferrand Aix-en-Provence",
    "ES": "Madrid Barcelona Valencia Sevilla Zaragoza Málaga Murcia Palma Bilbao Alicante "
          "Córdoba Valladolid Vigo Gijón Granada Oviedo Pamplona Santander Salamanca Toledo "
          "Cádiz Burgos León Girona Tarragona Las_Palmas San_Sebastián Santa_Cruz_de_Tenerife",
    "GB": "London Birmingham Manchester Liverpool Leeds Sheffield Bristol Glasgow Edinburgh "
          "Cardiff Belfast Newcastle Nottingham Leicester Coventry Oxford Cambridge Brighton "
          "Southampton Portsmouth Aberdeen Dundee York Bath Exeter Norwich Swansea Reading",
    "IE": "Dublin Cork Limerick Galway Waterford Drogheda Dundalk Kilkenny Sligo Athlone",
    "NO": "Oslo Bergen Trondheim Stavanger Drammen Fredrikstad Kristiansand Tromsø Bodø "
          "Ålesund Tønsberg Moss Sandnes Sarpsborg Skien Arendal Hamar Lillehammer",
    "SE": "Stockholm Göteborg Malmö Uppsala Lund Umeå Gävle Borås Luleå Kiruna Visby",
    "HU": "Budapest Debrecen Szeged Miskolc Pécs Győr Nyíregyháza Kecskemét Székesfehérvár "
          "Szombathely Szolnok Tatabánya Kaposvár Érd Veszprém Sopron Eger",
    "AT": "Wien Graz Linz Salzburg Innsbruck Klagenfurt Villach Wels Dornbirn Bregenz",
    "CH": "Zürich Genève Geneva Basel Bern Lausanne Luzern Lugano Winterthur Biel",
    "BE": "Bruxelles Brussel Brussels Antwerpen Anvers Gent Gand Liège Luik Brugge Namur "
          "Charleroi Leuven Louvain Mons Bergen Mechelen Hasselt Ostende Oostende",
    "NL": "Amsterdam Rotterdam Den_Haag Utrecht Eindhoven Groningen Tilburg Almere Breda "
          "Nijmegen Haarlem Arnhem Leiden Maastricht Delft Zwolle",
    "DE": "Berlin Hamburg München Köln Frankfurt Stuttgart Düsseldorf Leipzig Dortmund "
          "Essen Bremen Dresden Hannover Nürnberg Duisburg Bochum Wuppertal Bielefeld Bonn "
          "Münster Mannheim Karlsruhe Augsburg Wiesbaden Frankfurt_am_Main Freiburg Kiel",
    "IT": "Roma Milano Napoli Torino Palermo Genova Bologna Firenze Bari Catania Venezia "
          "Verona Messina Padova Trieste Brescia Parma Modena",
    "PT": "Lisboa Porto Braga Coimbra Funchal Faro Aveiro Setúbal Amadora Almada",
    "PL": "Warszawa Kraków Łódź Wrocław Poznań Gdańsk Szczecin Bydgoszcz Lublin Katowice "
          "Białystok Gdynia Częstochowa Radom Toruń Rzeszów Olsztyn Opole",
    "CZ": "Praha Brno Ostrava Plzeň Liberec Olomouc Pardubice Zlín",
    "SK": "Bratislava Košice Prešov Žilina Nitra Trnava Martin",
    "DK": "København Aarhus Odense Aalborg Esbjerg Randers Kolding Horsens Vejle Roskilde",
    "FI": "Helsinki Espoo Tampere Vantaa Oulu Turku Jyväskylä Lahti Kuopio Pori Vaasa",
    "EE": "Tallinn Tartu Narva Pärnu Viljandi",
    "LV": "Rīga Riga Daugavpils Liepāja Jelgava Jūrmala Ventspils",
    "LT": "Vilnius Kaunas Klaipėda Šiauliai Panevėžys Alytus",
    "RO": "București Bucuresti Cluj-Napoca Timișoara Iași Constanța Craiova Brașov Galați",
    "HR": "Zagreb Split Rijeka Osijek Zadar Pula Dubrovnik",
    "SI": "Ljubljana Maribor Celje Kranj Koper",
    "LU": "Luxembourg Esch-sur-Alzette Differdange Dudelange",
    "GR": "Athens Athina Thessaloniki Patras Heraklion Larissa",
    "CA": "Toronto Montréal Montreal Vancouver Calgary Edmonton Ottawa Winnipeg Québec Quebec "
          "Hamilton Halifax Victoria Regina Saskatoon Gatineau Laval",
    "AU": "Sydney Melbourne Brisbane Perth Adelaide Canberra Hobart Darwin Geelong "
          "Newcastle Wollongong Cairns Townsville",
    "US": "New_York Los_Angeles Chicago Houston Phoenix Philadelphia San_Antonio San_Diego "
          "Dallas Austin Boston Seattle Denver Washington Atlanta Miami Detroit Portland",
}


@cache
def _gazetteer() -> dict[str, frozenset[str]]:
    """Lower-cased city name -> the countries it lies in: Faker's city lists (bundled data,
    no network) and a short list of larger cities; names under four letters are left out."""
    cities: dict[str, set[str]] = {}
    for locale, country in _CITY_LOCALES.items():
        provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        names = getattr(provider, "cities", ())
        for name in names:
            cities.setdefault(name.lower(), set()).add(country)
    for country, names in _MORE_CITIES.items():
        for name in names.split():
            cities.setdefault(name.replace("_", " ").lower(), set()).add(country)
    return {name: frozenset(c) for name, c in cities.items() if len(name) >= 4}


def _city_countries(words: str, *, from_end: bool) -> frozenset[str]:
    """Countries of the city the 1-3 capitalised ``words`` name (the longest that is a city),
    read from their start (a city after the code) or their end (before it)."""
    tokens = words.split()
    gazetteer = _gazetteer()
    for n in range(min(3, len(tokens)), 0, -1):
        part = tokens[-n:] if from_end else tokens[:n]
        if not part[0][:1].isupper():
            continue
        countries = gazetteer.get(" ".join(part).lower())
        if countries:
            return countries
    return frozenset()


# State and province abbreviations written next to a postcode ("NSW 2000", "ON K1A 0B1",
# "CA 94105"); those that are also common upper-case words (ID, OR, IN, OK...) left out.
_STATES: dict[str, frozenset[str]] = {
    **dict.fromkeys(re.findall(r"[A-Z]+", "AL AK AZ AR CO CT DC FL GA IL IA KS KY LA MD MA MI "
                               "MN MS MO MT NE NV NH NJ NM NY NC ND PA RI SC SD TN TX UT VT VA "
                               "WV WI WY"), frozenset({"US"})),
    **dict.fromkeys(re.findall(r"[A-Z]+", "AB BC MB NB NL NS NU ON PE QC SK YT"),
                    frozenset({"CA"})),
    **dict.fromkeys(("NSW", "VIC", "QLD", "TAS", "ACT"), frozenset({"AU"})),
    "CA": frozenset({"US"}), "WA": frozenset({"US", "AU"}), "NT": frozenset({"AU", "CA"}),
    "SA": frozenset({"AU"}),
}
_STATE_BEFORE = re.compile(r"\b([A-Z]{2,3}),?[ \t]+$")
_STATE_AFTER = re.compile(r"[ \t]+([A-Z]{2,3})\b")
_YEAR_CUE = re.compile(r"(?i:\b(?:in|since|from|by|until|before|after|during|of|year))[ \t]+$")


def _looks_like_year(code: str) -> bool:
    return len(code) == 4 and code.isdigit() and 1900 <= int(code) <= 2099


# Postcodes as candidates in free text: every shape the formats above take, and three to
# six digits after a postal word ("my zip is 940").
_TEXT_CANDIDATE = re.compile(
    rf"\b(?:{_UK}|{_CA}|{_IE}|{_NL}|{_PREFIX}"
    r"(?:\d{5}-\d{4}|\d{4}-\d{3}|\d{2}-\d{3}|\d{3}[ \t]\d{2}(?![ \t]?\d)|\d{3,6}))\b")
# Postcodes in a column cell: the shapes that are postcodes without any context.
_COLUMN_PATTERN = rf"\b(?:\d{{5}}(?:-\d{{4}})?|{_UK}|{_CA}|{_IE}|{_NL})\b"


def _column_score(value: str) -> float:
    """The context-free score of a postcode-shaped cell value: US ZIP codes low (five digits
    are many things), validated letter-digit formats and prefixed codes a little higher."""
    countries = postcode_countries(value)
    if not countries:
        return 0.0
    if "-" in value and not value[0].isdigit():
        return 0.4
    if countries & _DISTINCT:
        return 0.4
    return 0.25 if "US" in countries else 0.0


def _us_zip_bulk(values: pl.Series) -> pl.Series:
    """Bare digit strings decided in one pass: five digits (not 00000) score 0.25, others 0."""
    return pl.select(
        pl.when(values.str.contains(r"^\d{5}$") & (values != "00000")).then(0.25)
        .when(values.str.contains(r"^\d+$")).then(0.0)).to_series()


@dataclass(frozen=True)
class PostcodeRecognizer(PatternRecognizer):
    """ZIP and postcodes: a column pass over the shapes that need no context (``pattern``),
    and in free text any country's format next to a postal word or a city of its country."""

    def spans(self, text: str) -> list[Span]:
        found = []
        for match in _TEXT_CANDIDATE.finditer(text):
            start, end = match.span()
            score = self._text_score(text, start, end)
            if score > 0.0:
                found.append(Span(start, end, self.entity, score, self.name))
        return found

    def _text_score(self, text: str, start: int, end: int) -> float:
        code = text[start:end]
        if (_AMOUNT_BEFORE.search(text, max(0, start - 5), start)
                or _AMOUNT_AFTER.match(text, end, min(len(text), end + 8))):
            return 0.0
        if (_STREET_BEFORE.search(text[max(0, start - 40):start])
                or _STREET_AFTER.match(text, end, min(len(text), end + 60))):
            return 0.0  # a house number
        countries = postcode_countries(code)
        if _POSTAL_CUE.search(text[max(0, start - 30):start]):
            return 0.85 if countries or (code.isdigit() and len(code) >= 3) else 0.0
        if not countries:
            return 0.0
        window = _around(text, start, end)
        if (_has_words(window, _POSTAL_WORDS)
                or _has_words(text[end:end + 40].lower(), _POSTAL_PHRASES)
                or self._area_after(text, end)):
            return 0.6 if not _looks_like_year(code) else 0.0
        if self._next_to_state(text, start, end, countries):
            return 0.7
        if self._next_to_city(text, start, end, countries) and not _looks_like_year(code):
            return 0.7
        if (_PLACE_PREPOSITION.search(text, max(0, start - 8), start)
                and _TITLE_PLACE_AFTER.match(text, end, min(len(text), end + 4))
                and not _looks_like_year(code)):
            return 0.55
        score = _column_score(code) if len(code) > 4 or not code.isdigit() else 0.0
        if "US" in countries and _has_words(window, _ZIP_ADDRESS_WORDS):
            score += 0.5
        if _has_words(window, _NEGATIVE):
            score -= 0.2
        return round(max(score, 0.0), 4)

    @staticmethod
    def _area_after(text: str, end: int) -> bool:
        area = _AREA_AFTER.match(text, end, min(len(text), end + 20))
        return bool(area and area.group(1) is None)

    @staticmethod
    def _next_to_state(text: str, start: int, end: int, countries: frozenset[str]) -> bool:
        """A state or province of one of ``countries`` just before the code ("NSW 2000") or
        after it ("2000 NSW", unless a year: "in 2000 NSW ...")."""
        before = _STATE_BEFORE.search(text, max(0, start - 6), start)
        if before and _STATES.get(before.group(1), frozenset()) & countries:
            return True
        after = _STATE_AFTER.match(text, end, min(len(text), end + 6))
        return bool(after and _STATES.get(after.group(1), frozenset()) & countries
                    and not _YEAR_CUE.search(text, max(0, start - 12), start))

    @staticmethod
    def _next_to_city(text: str, start: int, end: int, countries: frozenset[str]) -> bool:
        """A city of one of ``countries`` right after the code, or before a code that carries
        letters ("London SW1A 1AA")."""
        after = _WORDS_AFTER.match(text, end, min(len(text), end + 50))
        if after and _city_countries(after.group(1), from_end=False) & countries:
            return True
        if countries & _DISTINCT:
            before = _WORDS_BEFORE.search(text[max(0, start - 50):start])
            return bool(before and _city_countries(before.group(1), from_end=True) & countries)
        return False


ADDRESS_RECOGNIZERS: tuple[Recognizer, ...] = (
    AddressRecognizer(
        "street_address", Entity.STREET_ADDRESS, _US_STREET, score=0.7,
        context=_ADDRESS_CONTEXT, context_boost=0.2, whole=_US_ADDRESS),
    AddressRecognizer(
        "street_address_eu", Entity.STREET_ADDRESS, _EU_NUMBERED, score=0.7,
        context=_ADDRESS_CONTEXT, context_boost=0.2, whole=_EU_ADDRESS),
    AddressRecognizer(
        "street_address_romance", Entity.STREET_ADDRESS, _ROMANCE_STREET, score=0.7,
        context=_ADDRESS_CONTEXT, context_boost=0.2, whole=_ROMANCE_ADDRESS),
    AddressRecognizer(
        "street_address_more", Entity.STREET_ADDRESS, _US_MORE_STREET, score=0.45,
        context=_ADDRESS_CONTEXT, context_boost=0.2, whole=_US_MORE_ADDRESS),
    AddressRecognizer(
        "street_address_postal", Entity.STREET_ADDRESS, _POSTAL_LINE, score=0.6,
        scorer=_postal_line_score, context=_ADDRESS_CONTEXT, context_boost=0.2,
        whole=_NAMED_POSTAL_ADDRESS, postal_bonus=0.0),
    NamedStreetRecognizer(
        "street_address_named", Entity.STREET_ADDRESS, _NAMED_STREET, score=0.45,
        validator=_no_year_number, context=_ADDRESS_CONTEXT, context_boost=0.2,
        needs_context=True),
    PatternRecognizer(
        "street_address_lower", Entity.STREET_ADDRESS, _LOWER_ADDRESS, score=0.35,
        context=_ADDRESS_CONTEXT, context_boost=0.3),
    PatternRecognizer(
        "street_address_lower_eu", Entity.STREET_ADDRESS, _LOWER_EU_ADDRESS, score=0.35,
        validator=_no_year_number,
        context=_ADDRESS_CONTEXT, context_boost=0.3, needs_context=True),
    PatternRecognizer(
        "street_address_name_number", Entity.STREET_ADDRESS, _NAME_NUMBER_ADDRESS, score=0.45,
        validator=_no_year_number,
        context=(*_ADDRESS_CONTEXT, "apt", "apartment", "suite"), context_boost=0.2,
        needs_context=True),
    AddressRecognizer(
        "po_box", Entity.STREET_ADDRESS, _PO_OR_MILITARY, score=0.8,
        whole=rf"{_MILITARY}|{_BOX}{_BLOCK}"),
    AddressRecognizer(
        "address_unit", Entity.STREET_ADDRESS, _UNIT_ALONE,
        score=0.5, context=_ADDRESS_CONTEXT, context_boost=0.1, whole=_UNIT_ADDRESS),
    PatternRecognizer(
        "street_address_city_state", Entity.STREET_ADDRESS, _CITY_STATE_ADDRESS, score=0.7,
        context=_ADDRESS_CONTEXT, context_boost=0.2),
    PatternRecognizer(
        "street_corner", Entity.STREET_ADDRESS, _CORNER, score=0.75,
        context=_CORNER_WORDS, context_boost=0.2, needs_context=True),
    CornerRecognizer(
        "street_corner_named", Entity.STREET_ADDRESS, _CORNER_NAMED, score=0.75,
        needs_context=True),
    PostcodeRecognizer(
        "zip_code", Entity.ZIP_CODE, _COLUMN_PATTERN, score=0.25, scorer=_column_score,
        bulk=_us_zip_bulk),
)
