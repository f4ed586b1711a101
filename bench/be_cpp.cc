// C++ protobuf backend, heap and arena variants. Heap decode is
// `new T; ParseFromArray; delete`; arena decode creates the message on a
// google::protobuf::Arena that is Reset() after the parse. Encode is
// SerializeToArray() (it runs ByteSizeLong(), the size pass, itself) into a
// reused buffer.
#include <google/protobuf/arena.h>
#include <google/protobuf/descriptor.pb.h>

#include <cstdio>
#include <vector>

#include "backend.h"
#include "bench.pb.h"
#include "payments.pb.h"

namespace {

struct Ctx {
  virtual ~Ctx() = default;
  virtual int Decode() = 0;
  virtual int Encode() = 0;
  std::vector<uint8_t> out;
  size_t out_len = 0;
};

template <typename T, bool kArena>
struct TypedCtx : Ctx {
  TypedCtx(const uint8_t* d, size_t n) : data(d), len(n) {}
  bool Setup() { return msg.ParseFromArray(data, static_cast<int>(len)); }
  int Decode() override {
    if (kArena) {
      T* m = google::protobuf::Arena::CreateMessage<T>(&arena);
      bool ok = m->ParseFromArray(data, static_cast<int>(len));
      arena.Reset();
      return !ok;
    }
    T* m = new T;
    bool ok = m->ParseFromArray(data, static_cast<int>(len));
    delete m;
    return !ok;
  }
  int Encode() override {
    if (out.size() < len * 2 + 16) out.resize(len * 2 + 16);
    if (!msg.SerializeToArray(out.data(), static_cast<int>(out.size()))) return 1;
    out_len = msg.GetCachedSize();
    return 0;
  }
  const uint8_t* data;
  size_t len;
  google::protobuf::Arena arena;
  T msg;
};

template <typename T, bool kArena>
Ctx* Make(const uint8_t* data, size_t len) {
  auto* c = new TypedCtx<T, kArena>(data, len);
  if (!c->Setup()) {
    std::fprintf(stderr, "c++: parse failed\n");
    delete c;
    return nullptr;
  }
  return c;
}

template <bool kArena>
void* Setup(int w, const uint8_t* data, size_t len) {
  switch (w) {
    case BENCH_SMALL:
      return Make<payments::v1::ChargeRequest, kArena>(data, len);
    case BENCH_BATCH:
      return Make<payments::v1::BatchChargeResponse, kArena>(data, len);
    case BENCH_TXPAGE:
      return Make<bench::v1::TransactionPage, kArena>(data, len);
    default:
      return Make<google::protobuf::FileDescriptorSet, kArena>(data, len);
  }
}

int Decode(void* p) { return static_cast<Ctx*>(p)->Decode(); }
int Encode(void* p) { return static_cast<Ctx*>(p)->Encode(); }
const uint8_t* Output(void* p, size_t* len) {
  auto* c = static_cast<Ctx*>(p);
  *len = c->out_len;
  return c->out.data();
}
void Teardown(void* p) { delete static_cast<Ctx*>(p); }

}  // namespace

extern "C" {
const bench_backend bench_cpp_heap = {"c++", Setup<false>, Decode, Encode, Output, Teardown};
const bench_backend bench_cpp_arena = {"c++-arena", Setup<true>, Decode, Encode, Output,
                                       Teardown};
}
