/* im2col / col2im for the convolution lowering (lowering.c). */
#ifndef NDCNN_LOWERING_H
#define NDCNN_LOWERING_H
#include <node_api.h>
napi_value ndcnn_im2col(napi_env env, napi_callback_info info);
napi_value ndcnn_col2im(napi_env env, napi_callback_info info);
#endif
