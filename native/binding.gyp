{
  "targets": [
    {
      "target_name": "ndcnn_blas",
      "sources": ["src/blas.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas"]
    }
  ]
}
