/* Layouts that exercise the C dumper: padding, packing, bitfields, nesting, names. */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

struct packed_one { char c; int i; } __attribute__((packed));
struct packed_tail { int i; char c; } __attribute__((packed));
struct aligned16 { int a; } __attribute__((aligned(16)));
struct holes { char a; long b; char c; short d; int e; char f; };
struct bits { unsigned a:3; unsigned :0; unsigned b:5; char c; unsigned long d:40; unsigned e:2; int f; };
struct bits_gap { u8 a:1; u32 :7; u8 b:2; u64 c:60; u16 d; };
struct big_gap { char a; char pad[0]; long long b __attribute__((aligned(32))); };
struct with_anon {
	int x;
	union { int i; float f; struct { short lo, hi; }; };
	struct { int y; } named_anon;
	enum { A1, A2 = 7 } e;
	struct inner_fwd *fwd;
	void (*cb)(void);
	int (*ops[4])(int, ...);
	const char *(*getname)(const struct with_anon *self);
	char tail[];
};
struct empty {};
struct has_empty { struct empty e; int x; };
enum small : unsigned char { S0, S1 = 200 };
enum wide : unsigned long { W0, W1 = 1 };
enum huge { H0 = 0x1ffffffffULL };
enum neg { N0 = -5, N1 };
typedef int arr_t[3][4];
typedef struct { int q; } anon_td;
typedef union ut { long l; } ut_t;
struct self_ref { struct self_ref *next; struct self_ref *arr[2]; };
struct a_first;
struct b_second { struct a_first *a; };
struct a_first { struct b_second b; int v; };
struct tagged { int __attribute__((btf_type_tag("user"))) *up; int x __attribute__((btf_decl_tag("dtag"))); };
volatile const int * restrict * const rp;
struct packed_bits { char a; int b:10; char c; } __attribute__((packed));
struct nested_arr { struct { int a; } s[2]; union { char c; int i; } u[1]; };
typedef void (*sighandler_t)(int);
struct fn_arr { sighandler_t h; int (*(*fp)(void))[3]; };

struct all {
	struct packed_one a; struct packed_tail b; struct aligned16 c; struct holes d;
	struct bits e; struct bits_gap f; struct big_gap g; struct with_anon *h; struct has_empty i;
	enum small j; enum wide k; enum huge l; enum neg m; arr_t n; anon_td o; ut_t p;
	struct self_ref q; struct a_first r; struct tagged s; struct packed_bits t;
	struct nested_arr u; struct fn_arr v; struct with_anon *w;
} all_v;
struct with_anon wa_v;
int scope_dup(void) { struct holes { int z; } x = {1}; return x.z; }
struct outer_packed_inner { char a; struct packed_one inner; short s; };
struct outer_packed_inner opi_v;
struct uneven { char a[3]; } __attribute__((packed, aligned(1)));
struct contains_uneven { struct uneven u; int x; char y; } cu_v;
