"""Brown sentences → per-split token streams in the model vocabulary, plus vocab.tsv."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import os

    import pandas as pd

    from phrenology.data import corpus, vocab
    from phrenology.pipeline import io

    p = snakemake.params.corpus
    sentences = corpus.load_sentences(p["name"])
    train, heldout = corpus.split_sentences(sentences, p["train_fraction"])
    encoding = vocab.load_encoding(p["tokenizer"])
    streams = {
        split: corpus.encode_sentences(
            [corpus.detokenize(s) for s in sents], encoding.encode_ordinary_batch
        )
        for split, sents in (("train", train), ("heldout", heldout))
    }
    vocabulary = vocab.build_vocabulary(
        streams["train"].tokens, vocab.token_strings(encoding), p["vocab_size"]
    )
    out = snakemake.output
    corpus_path = corpus.corpus_file(p["name"])
    tokenizer = {"name": p["tokenizer"], "n_vocab": encoding.n_vocab,
                 "vocab_sha256": vocab.encoding_sha256(encoding)}  # fmt: skip
    if corpus_path and os.path.isfile(corpus_path):
        job.uses_file(corpus_path, role="corpus")  # read through NLTK, not a Snakemake input
    job.uses("tokenizer", **tokenizer)
    for split, stream in streams.items():
        io.save_npy(
            out[f"{split}_tokens"],
            vocabulary.encode(stream.tokens, encoding.n_vocab).astype("int32"),
        )
        io.save_npy(out[f"{split}_offsets"], stream.offsets)
    io.write_tsv(out.vocab, pd.DataFrame({
        "id": range(vocabulary.size), "gpt2_id": vocabulary.gpt2_ids,
        "token": vocabulary.tokens, "count": vocabulary.counts,
    }))  # fmt: skip
    io.write_json(out.manifest, {
        "corpus": {"name": p["name"], "file": corpus_path,
                   "file_sha256": io.sha256_file(corpus_path) if corpus_path and os.path.isfile(corpus_path) else None,
                   "sentences": len(sentences), "sentences_sha256": corpus.sentences_sha256(sentences)},
        "split": {"train_sentences": len(train), "heldout_sentences": len(heldout),
                  "train_tokens": len(streams["train"].tokens), "heldout_tokens": len(streams["heldout"].tokens)},
        "tokenizer": tokenizer,
        "vocabulary": {"size": vocabulary.size, "unk_id": vocabulary.unk_id},
    })  # fmt: skip
