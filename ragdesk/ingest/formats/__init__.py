"""One module per format family; each turns a LoadedFile's bytes into Extracted.

They are imported lazily by ``ragdesk.ingest.extract`` so that a run that
meets no PDF never imports pypdf.
"""
