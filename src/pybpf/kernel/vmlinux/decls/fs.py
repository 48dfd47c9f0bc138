"""Files, inodes, dentries and super blocks: what iterators and LSM programs read."""

DECLS = r"""
struct qstr {
    union {
        struct {
            u32 hash;
            u32 len;
        };
        u64 hash_len;
    };
    const unsigned char *name;
};

struct path {
    struct vfsmount *mnt;
    struct dentry *dentry;
};

struct super_block {
    struct list_head s_list;
    dev_t s_dev;
    unsigned char s_blocksize_bits;
    unsigned long s_blocksize;
    loff_t s_maxbytes;
    struct file_system_type *s_type;
    unsigned long s_flags;
    unsigned long s_magic;
    struct dentry *s_root;
    char s_id[32];
    void *s_fs_info;
};

struct inode {
    umode_t i_mode;
    unsigned short i_opflags;
    kuid_t i_uid;
    kgid_t i_gid;
    unsigned int i_flags;
    const struct inode_operations *i_op;
    struct super_block *i_sb;
    struct address_space *i_mapping;
    void *i_security;
    unsigned long i_ino;
    union {
        const unsigned int i_nlink;
        unsigned int __i_nlink;
    };
    dev_t i_rdev;
    loff_t i_size;
    s64 i_atime_sec;
    s64 i_mtime_sec;
    s64 i_ctime_sec;
    u32 i_atime_nsec;
    u32 i_mtime_nsec;
    u32 i_ctime_nsec;
    atomic_t i_count;
    void *i_private;
};

struct dentry {
    unsigned int d_flags;
    struct dentry *d_parent;
    struct qstr d_name;
    struct inode *d_inode;
    unsigned char d_iname[40];
    struct super_block *d_sb;
    void *d_fsdata;
};

struct file {
    atomic_long_t f_count;
    spinlock_t f_lock;
    fmode_t f_mode;
    const struct file_operations *f_op;
    struct address_space *f_mapping;
    void *private_data;
    struct inode *f_inode;
    unsigned int f_flags;
    const struct cred *f_cred;
    struct path f_path;
    loff_t f_pos;
};
"""
