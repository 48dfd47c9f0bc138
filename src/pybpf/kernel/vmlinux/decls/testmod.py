"""The kernel selftests' test objects (``bpf_testmod`` and ``net/bpf/test_run.c``):
small structs that test kfuncs acquire, pass and release, and that kptr tests store
in map values.  Laid out naturally, as the kernel's, since tests read them at fixed
offsets."""

DECLS = r"""
struct prog_test_member1 {
    int a;
};

struct prog_test_member {
    struct prog_test_member1 m;
    int c;
};

struct prog_test_ref_kfunc {
    int a;
    int b;
    struct prog_test_member memb;
    struct prog_test_ref_kfunc *next;
    refcount_t cnt;
};

struct prog_test_pass1 {
    int x0;
    struct {
        int x1;
        struct {
            int x2;
            struct {
                int x3;
            };
        };
    };
};

struct prog_test_pass2 {
    int len;
    short arr1[4];
    struct {
        char arr2[4];
        unsigned long arr3[8];
    } x;
};

struct prog_test_fail1 {
    void *p;
    int x;
};

struct prog_test_fail2 {
    int x8;
    struct prog_test_pass1 x;
};

struct prog_test_fail3 {
    int len;
    char arr1[2];
    char arr2[];
};

struct bpf_testmod_ctx {
    struct callback_head rcu;
    refcount_t usage;
};
"""
