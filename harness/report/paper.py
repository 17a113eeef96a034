"""The paper's headline numbers the report draws as references (see PAPER.md):
arXiv 2305.07205, MEM-REC, and MLPerf DLRM v1's Criteo Terabyte tables."""

PAPER_SPEEDUP = 3.4            # "up to 3.4x faster embedding lookups"
PAPER_COMPRESSION = 2900       # "2900x" compression of the Criteo-TB DLRM
# 26 tables, 187,767,399 rows of 128 fp32 = 96,136,908,288 bytes ("96.14 GB").
CRITEO_TB_BYTES = 96_136_908_288
PAPER_MEMREC_BYTES = CRITEO_TB_BYTES / PAPER_COMPRESSION  # ~33.2 MB
