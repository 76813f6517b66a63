{
  "targets": [
    {
      "target_name": "ndcnn_blas",
      "sources": ["src/blas.c", "src/lowering.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas"]
    }
  ]
}
