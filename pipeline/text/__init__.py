"""Japanese text: normalisation, tokenisation (fugashi + unidic-lite), personal-data masking."""
