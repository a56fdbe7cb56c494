#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
static void show(const char *what, void *p){
	FILE *f=fopen("/proc/self/smaps","r"); char l[512]; int in=0; uintptr_t a=(uintptr_t)p;
	while(fgets(l,sizeof l,f)){ unsigned long lo,hi;
		if(sscanf(l,"%lx-%lx",&lo,&hi)==2 && strchr(l,' ') && l[8]!=':'){ in = a>=lo && a<hi; if(in) printf("%s: %s",what,l);}
		else if(in && (!strncmp(l,"AnonHugePages",13)||!strncmp(l,"Rss",3)||!strncmp(l,"THPeligible",11))) printf("   %s",l);}
	fclose(f);}
int main(){
	size_t n=16<<20; char *p=aligned_alloc(64,n); memset(p,1,n); show("aligned_alloc 16M",p);
	char *q=malloc(1<<20); memset(q,1,1<<20); show("malloc 1M",q);
	size_t H=2<<20; char *r=mmap(NULL,n+H,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
	char *a=(char*)(((uintptr_t)r+H-1)&~(uintptr_t)(H-1)); madvise(a,n,MADV_HUGEPAGE); memset(a,1,n); show("mmap+madvise 16M",a);
	return 0;}
