"""A document's pages as images: the one page geometry the extractor reads and evidence `bbox`
fractions refer to, shared by the extractor (decoding) and the gateway (`/pages/{n}`), with the
decode processes both run that work in."""
