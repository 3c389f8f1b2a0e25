#include "Commands.h"

int main(int argc, char** argv) {
  return unionscope::cli::run(argc, argv);
}
