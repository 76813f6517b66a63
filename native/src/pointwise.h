/* The CPU backend's memory-bound loops (pointwise.c). */
#ifndef NDCNN_POINTWISE_H
#define NDCNN_POINTWISE_H
#include <node_api.h>
napi_value ndcnn_relu(napi_env env, napi_callback_info info);
napi_value ndcnn_relu_times(napi_env env, napi_callback_info info);
napi_value ndcnn_bias_add(napi_env env, napi_callback_info info);
napi_value ndcnn_bias_grad(napi_env env, napi_callback_info info);
napi_value ndcnn_max_pool(napi_env env, napi_callback_info info);
napi_value ndcnn_gather(napi_env env, napi_callback_info info);
napi_value ndcnn_scatter_add(napi_env env, napi_callback_info info);
#endif
