"""Other ways of asking for the same verifiable constraint.

lm-eval writes one fixed sentence per constraint type ("Your entire response should be in
English, and in all lowercase letters. No capital letters are allowed."). A model trained only
on those sentences learns the sentence, not the request: asked "write it without any capital
letters" it does not comply. Broad prompts (`prompts.source: broad_instructions`) therefore
phrase each constraint, with probability `rephrase`, in one of these wordings: short inline
clauses, polite requests, terse specs. The parameters are lm-eval's own, so the same checker
verifies every wording. Written for alignkit from the checkers' definitions, not taken from
any benchmark.
"""

from __future__ import annotations

import random


def _words(ws: list[str]) -> str:
    quoted = [f'"{w}"' for w in ws]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


PHRASINGS: dict[str, tuple[str, ...]] = {
    "keywords:existence": (
        "Make sure to mention the words {keywords}.",
        "Use the words {keywords} somewhere in your answer.",
        "Your reply has to contain {keywords}.",
    ),
    "keywords:frequency": (
        'Use the word "{keyword}" {relation} {frequency} times.',
        'The word "{keyword}" must show up {relation} {frequency} times in your answer.',
    ),
    "keywords:forbidden_words": (
        "Do not use the words {forbidden_words}.",
        "Avoid the words {forbidden_words} completely.",
        "Never say {forbidden_words} in your answer.",
    ),
    "keywords:letter_frequency": (
        'The letter "{letter}" should be used {let_relation} {let_frequency} times.',
        'Make sure the letter {letter} appears {let_relation} {let_frequency} times in what you write.',
    ),
    "length_constraints:number_sentences": (
        "Write {relation} {num_sentences} sentences.",
        "Keep your answer to {relation} {num_sentences} sentences.",
    ),
    "length_constraints:number_paragraphs": (
        "Write exactly {num_paragraphs} paragraphs, separated from each other by a line with ***.",
        "Split your answer into {num_paragraphs} paragraphs and put the markdown divider *** between them.",
    ),
    "length_constraints:number_words": (
        "Use {relation} {num_words} words.",
        "The answer should be {relation} {num_words} words long.",
        "Your response must have {relation} {num_words} words.",
    ),
    "length_constraints:nth_paragraph_first_word": (
        "Write {num_paragraphs} paragraphs separated by blank lines, and start paragraph {nth_paragraph} with "
        'the word "{first_word}".',
        "Your answer needs {num_paragraphs} paragraphs (separate them with two new lines); paragraph "
        '{nth_paragraph} must begin with "{first_word}".',
    ),
    "detectable_content:number_placeholders": (
        "Include at least {num_placeholders} placeholders in square brackets, like [name].",
        "Leave at least {num_placeholders} blanks for the reader to fill in, written in square brackets such as "
        "[date].",
    ),
    "detectable_content:postscript": (
        "End with a postscript that starts with {postscript_marker}",
        "Add a note at the very end starting with {postscript_marker}",
        "Please finish with a {postscript_marker} note.",
    ),
    "detectable_format:number_bullet_lists": (
        "Use exactly {num_bullets} bullet points, in markdown (* like this).",
        "Answer in {num_bullets} markdown bullet points, each starting with *.",
        "Give me {num_bullets} bullets, no more and no less, using * for each.",
    ),
    "detectable_format:number_highlighted_sections": (
        "Highlight at least {num_highlights} parts with markdown, like *this part*.",
        "Put at least {num_highlights} phrases in italics with single asterisks, e.g. *important*.",
        "Mark {num_highlights} or more key sections with asterisks, *like so*.",
    ),
    "detectable_format:multiple_sections": (
        "Organise it in {num_sections} sections, each starting with {section_spliter} and its number "
        "({section_spliter} 1, {section_spliter} 2, ...).",
        "Use {num_sections} parts, and begin every part with '{section_spliter} X' where X is the part number.",
    ),
    "detectable_format:json_format": (
        "Give the whole answer as JSON.",
        "Format your entire reply as a JSON object.",
        "Reply in JSON only.",
    ),
    "detectable_format:title": (
        "Give it a title in double angular brackets, like <<my title>>.",
        "Start with a title wrapped in << and >>.",
        "Include a title such as <<title here>>.",
    ),
    "startend:end_checker": (
        'End your answer with the exact phrase "{end_phrase}" and nothing after it.',
        'The last words of your response must be: {end_phrase}',
        'Finish with "{end_phrase}"',
    ),
    "startend:quotation": (
        "Put your whole answer inside double quotes.",
        "Wrap everything you write in double quotation marks.",
        'Your response should start and end with a " character.',
    ),
    "change_case:capital_word_frequency": (
        "Use {capital_relation} {capital_frequency} words written in ALL CAPS.",
        "Write {capital_relation} {capital_frequency} words fully in capital letters for emphasis.",
    ),
    "change_case:english_capital": (
        "Write your entire answer in capital letters.",
        "Answer in all caps.",
        "Use only uppercase letters, in English.",
    ),
    "change_case:english_lowercase": (
        "Write it all in lowercase letters.",
        "Don't use any capital letters at all.",
        "Use lowercase only, in English: no capitals anywhere.",
        "Your whole reply should be lowercase.",
    ),
    "punctuation:no_comma": (
        "Don't use any commas.",
        "Write it without a single comma.",
        "No commas are allowed in your answer.",
    ),
    "combination:repeat_prompt": (
        "Before answering, repeat the request above word for word (without this sentence), then answer.",
        "First copy my request exactly as written, excluding this instruction, and then give your answer.",
    ),
    "combination:two_responses": (
        "Give two different answers, separated by six asterisks: ******",
        "Write two versions and put ****** between them.",
    ),
}


def rephrase(constraint_id: str, kwargs: dict, rng: random.Random) -> str | None:
    """Another wording of the constraint with these parameters, or None when there is none."""
    options = PHRASINGS.get(constraint_id)
    if not options:
        return None
    fields = {k: _words(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return rng.choice(options).format(**fields)
