/* A target with two flavors of struct sample that disagree: libbpf refuses. */
struct sample { int a; int b; };
struct sample___other { int b; int a; };
struct sample s1;
struct sample___other s2;
