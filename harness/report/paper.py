"""The paper's headline numbers the report draws as references: Jha, Thomas, Jain,
Gobriel, Rosing, Iyer, "Mem-Rec: Memory Efficient Recommendation System using
Alternative Representation", ACML 2023 (PMLR vol. 222; arXiv 2305.07205), and MLPerf
DLRM v1's Criteo Terabyte tables it compresses."""

PAPER_SPEEDUP = 3.4            # "up to 3.4x faster embedding lookups"
PAPER_COMPRESSION = 2900       # "2900x" compression of the Criteo-TB DLRM
# 26 tables, 187,767,399 rows of 128 fp32 = 96,136,908,288 bytes ("96.14 GB").
CRITEO_TB_BYTES = 96_136_908_288
PAPER_MEMREC_BYTES = CRITEO_TB_BYTES / PAPER_COMPRESSION  # ~33.2 MB
